// One worker: an event loop on its own thread, its own acceptor on every listener address
// (SO_REUSEPORT: the kernel spreads connections over the workers), its own balancers and its
// own pool of idle backend connections. Nothing on the request path is shared with another
// worker except the immutable config snapshot and the relaxed metric counters.
#ifndef HOLDFAST_EDGE_SERVER_WORKER_H_
#define HOLDFAST_EDGE_SERVER_WORKER_H_

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/snapshot.h"
#include "edge/config/edge_config.h"
#include "edge/health/health_table.h"
#include "edge/health/monitor.h"
#include "edge/server/metrics.h"
#include "edge/upstream/balancer.h"
#include "edge/upstream/eligibility.h"

namespace holdfast::edge {

// What every worker shares with the daemon. Outlives the workers.
struct SharedState {
  Snapshot<EdgeConfig> config;
  std::shared_ptr<EdgeMetrics> metrics;
  // Set by SIGTERM: stop accepting, finish what is in flight, close idle keep-alive connections.
  std::atomic<bool> draining{false};
  // Connections being served, over every listener and worker.
  std::atomic<int64_t> open_connections{0};
  // Endpoint health, published by the monitor; the one place balancers and reports read it.
  Snapshot<HealthTable> health;
  // Where workers report request outcomes (outlier detection). Set before the workers start,
  // outlives them; null runs without (tests).
  HealthMonitor* health_monitor = nullptr;
};

class Worker {
 public:
  Worker(int id, SharedState& shared);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens this worker's acceptors for every listener of the current config. An address that
  // cannot be bound is an error naming it.
  [[nodiscard]] absl::Status Listen();
  // Runs the loop on a new thread.
  void Start();
  // Closes the acceptors (draining); connections in flight go on.
  void StopAccepting();
  // Stops the loop and joins the thread.
  void Stop();

  // What the sessions (session.h) use, on this worker's thread only.
  asio::io_context& io() { return io_; }
  SharedState& shared() { return shared_; }
  const std::shared_ptr<const EdgeConfig>& config() const { return config_; }

  // Picks an endpoint of cluster `index`, avoiding `avoid` when another is eligible. nullopt:
  // nothing eligible.
  std::optional<size_t> Pick(size_t index, uint64_t hash, std::optional<size_t> avoid);
  // An idle pooled connection to the endpoint, if one is left open.
  std::optional<asio::ip::tcp::socket> TakeIdle(size_t cluster, size_t endpoint);
  void PutIdle(size_t cluster, size_t endpoint, asio::ip::tcp::socket socket);
  // How a request to an endpoint went, for outlier detection. Only what can change the
  // monitor's view is sent: every failure, and the first success after one.
  void ReportOutcome(size_t cluster, size_t endpoint, RequestOutcome outcome);
  // In-flight requests per endpoint, which least_request balances on.
  void BeginRequest(size_t cluster, size_t endpoint);
  void EndRequest(size_t cluster, size_t endpoint);

 private:
  struct ClusterState;

  asio::awaitable<void> AcceptLoop(size_t listener, asio::ip::tcp::acceptor& acceptor);
  // Takes a new health table when the monitor published one for this config.
  void RefreshHealth();

  int id_;
  SharedState& shared_;
  std::shared_ptr<const EdgeConfig> config_;  // the snapshot this worker was started on
  asio::io_context io_{1};
  std::vector<std::pair<size_t, std::unique_ptr<asio::ip::tcp::acceptor>>> acceptors_;
  std::vector<std::unique_ptr<ClusterState>> clusters_;
  std::mt19937_64 random_;
  uint64_t health_sequence_ = ~uint64_t{0};
  uint64_t health_generation_ = ~uint64_t{0};
  std::thread thread_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_WORKER_H_
