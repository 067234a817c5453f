// One worker: an event loop on its own thread, its own acceptor on every listener address
// (SO_REUSEPORT: the kernel spreads connections over the workers), its own balancers and its
// own pool of idle backend connections. Nothing on the request path is shared with another
// worker except immutable snapshots and the relaxed metric counters.
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
#include "dns/server/server.h"
#include "edge/config/edge_config.h"
#include "edge/health/health_table.h"
#include "edge/health/monitor.h"
#include "edge/overload/client_limiter.h"
#include "edge/overload/gate.h"
#include "edge/server/access_log.h"
#include "edge/server/metrics.h"
#include "edge/server/parking.h"
#include "edge/server/watchdog.h"
#include "edge/upstream/balancer.h"
#include "edge/upstream/eligibility.h"

namespace holdfast::edge {

// What the edge serves: a compiled config, the health monitor that checks its endpoints, and
// the metrics of its clusters (by index). Replaced as a whole on reload; immutable.
struct Serving {
  std::shared_ptr<const EdgeConfig> config;
  std::shared_ptr<HealthMonitor> monitor;  // may be null (tests)
  std::vector<ClusterMetrics*> cluster_metrics;
  // By cluster index: what admits requests to it (from SharedState::gates).
  std::vector<ClusterGate*> cluster_gates;
  // By listener index: its clients' token buckets, null when it does not limit them.
  std::vector<std::shared_ptr<ClientLimiter>> client_limiters;
  // By listener index: the listener's access log, null when it has none.
  std::vector<std::shared_ptr<AccessLog>> access_logs;
};

// What every worker shares with the daemon. Outlives the workers.
struct SharedState {
  Snapshot<Serving> serving;
  std::shared_ptr<EdgeMetrics> metrics;
  // Every cluster's gate, by name, across reloads.
  GateRegistry gates;
  // Set when the drain begins (SIGTERM), before BGP's graceful shutdown: reports say the node
  // is draining from then on.
  std::atomic<bool> drain_started{false};
  // Set once the drain stops accepting: finish what is in flight, close idle keep-alive
  // connections.
  std::atomic<bool> draining{false};
  // Every worker loop's heartbeat; set before the workers start.
  std::shared_ptr<Watchdog> watchdog;
  // The node withdrew every prefix itself because it cannot serve (a worker loop wedged),
  // without waiting for the control plane.
  std::atomic<bool> self_withdrawn{false};
  // Connections being served, over every listener and worker.
  std::atomic<int64_t> open_connections{0};
  // Endpoint health, published by the monitor; the one place balancers and reports read it.
  Snapshot<HealthTable> health;
  // What dns listeners answer from; set with every Serving (and, later, every plan).
  Snapshot<dns::DnsData> dns;
};

// A worker's state for one Serving: per cluster its balancer, its view of endpoint health,
// its idle backend connections and in-flight counts. A request keeps the Runtime it started
// with, so a reload never changes the indices under a request in flight; the old Runtime goes
// when its last request does. Used on its worker's thread only.
class Runtime {
 public:
  Runtime(std::shared_ptr<const Serving> serving, SharedState& shared, std::mt19937_64& random,
          bool log_panic);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const EdgeConfig& config() const { return *serving_->config; }
  const std::shared_ptr<const EdgeConfig>& config_ptr() const { return serving_->config; }
  ClusterMetrics& cluster_metrics(size_t cluster) const {
    return *serving_->cluster_metrics[cluster];
  }
  ClusterGate& cluster_gate(size_t cluster) const { return *serving_->cluster_gates[cluster]; }
  // Listener `listener`'s client limiter, or null.
  ClientLimiter* client_limiter(size_t listener) const {
    return listener < serving_->client_limiters.size() ? serving_->client_limiters[listener].get()
                                                       : nullptr;
  }
  // The access log of listener `listener`, or null.
  AccessLog* access_log(size_t listener) const {
    return listener < serving_->access_logs.size() ? serving_->access_logs[listener].get()
                                                   : nullptr;
  }

  // Picks an endpoint of cluster `index`, avoiding `avoid` when another is eligible. nullopt:
  // nothing eligible.
  std::optional<size_t> Pick(size_t index, uint64_t hash, std::optional<size_t> avoid);
  // An idle pooled connection to the endpoint, if one is left open.
  std::optional<asio::ip::tcp::socket> TakeIdle(size_t cluster, size_t endpoint);
  void PutIdle(size_t cluster, size_t endpoint, asio::ip::tcp::socket socket);
  // Drops every idle backend connection (draining).
  void DropIdle();
  // How a request to an endpoint went, for outlier detection. Only what can change the
  // monitor's view is sent: every failure, and the first success after one.
  void ReportOutcome(size_t cluster, size_t endpoint, RequestOutcome outcome);
  // In-flight requests per endpoint, which least_request balances on.
  void BeginRequest(size_t cluster, size_t endpoint);
  void EndRequest(size_t cluster, size_t endpoint);

 private:
  struct ClusterState;

  // Takes a new health table when the monitor published one for this config.
  void RefreshHealth();

  std::shared_ptr<const Serving> serving_;
  SharedState& shared_;
  bool log_panic_;
  std::vector<std::unique_ptr<ClusterState>> clusters_;
  uint64_t health_sequence_ = ~uint64_t{0};
  uint64_t health_generation_ = ~uint64_t{0};
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

  // What the sessions (http_connection.h, tcp_proxy.h) use, on this worker's thread only.
  asio::io_context& io() { return io_; }
  SharedState& shared() { return shared_; }
  ParkingLot& parking() { return parking_; }
  // The Runtime for the newest Serving (built on first use after a reload).
  std::shared_ptr<Runtime> Current();

 private:
  asio::awaitable<void> AcceptLoop(size_t listener, asio::ip::tcp::acceptor& acceptor);
  // Stamps the watchdog every Watchdog::kBeat while the loop runs.
  asio::awaitable<void> Heartbeat();

  int id_;
  SharedState& shared_;
  asio::io_context io_{1};
  // After io_: goes first, while the loop it registered with still exists.
  ParkingLot parking_;
  // By listener index: the listener set is fixed for the process's life (reload refuses to
  // change it), so indices stay valid across reloads.
  std::vector<std::pair<size_t, std::unique_ptr<asio::ip::tcp::acceptor>>> acceptors_;
  // One per address of every dns listener, on this worker's loop.
  std::vector<std::unique_ptr<dns::Server>> dns_servers_;
  std::mt19937_64 random_;
  std::shared_ptr<Runtime> runtime_;
  uint64_t serving_sequence_ = ~uint64_t{0};
  std::thread thread_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_WORKER_H_
