// The edge daemon as an object with a life (Envoy's Server::InstanceImpl is the model):
//
//   booting --Apply(first config)--> serving --Drain()--> draining --> stopped
//
// Booting, it holds no sockets; a plan that arrives is kept. The first config it is given builds
// everything that serves it: the health monitor (on its own thread), the BGP speaker, one worker
// per thread with its listeners, the admin listener, DNS discovery. Serving, each event has its
// method: a new config (a reload or a snapshot from the control plane: Apply), a plan
// (FollowPlan), new addresses of a DNS-discovered cluster (resolved on the discovery thread,
// applied here). Drain() runs the drain as a sequence of timers on the main loop, and ends
// stopped.
//
// Threads: every method runs on the main loop's thread (the io_context given at construction),
// but Report(), which the control client calls from its own. Where the config comes from is
// not the Instance's business: config_source.h delivers it.
#ifndef HOLDFAST_EDGE_DAEMON_INSTANCE_H_
#define HOLDFAST_EDGE_DAEMON_INSTANCE_H_

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "edge/bgp/announcer.h"
#include "edge/bgp/restart_marker.h"
#include "edge/daemon/loader.h"
#include "edge/discovery/resolver.h"
#include "edge/server/admin.h"
#include "edge/server/worker.h"
#include "holdfast/v1/plan.pb.h"

namespace holdfast::edge {

struct InstanceOptions {
  std::string node;
  // The admin listener, HOST:PORT (port 0: any free).
  std::string admin = "127.0.0.1:9901";
  // Event loops; 0 means one per core.
  int workers = 0;
  // How long a drain waits for requests in flight.
  absl::Duration drain_timeout = absl::Seconds(30);
  // How long a drain serves on with the routes marked GRACEFUL_SHUTDOWN (within drain_timeout).
  absl::Duration bgp_drain_time = absl::Seconds(10);
  uint32_t bgp_drain_prepend = 0;
  // Resolvers for DNS-discovered clusters; empty: the system's.
  std::string dns_resolvers;
  // Where the BGP restart marker lives.
  std::string state_dir;
};

class Instance {
 public:
  enum class Phase { kBooting, kServing, kDraining, kStopped };

  Instance(InstanceOptions options, asio::io_context& main_loop);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  Phase phase() const { return phase_; }
  // What the process exits with once stopped: 0 after a drain, 1 when serving could not start.
  int exit_code() const { return exit_code_; }
  // The config served (nullptr while booting).
  const std::shared_ptr<const EdgeConfig>& config() const { return config_; }

  // Booting: serves `loaded` (an error, such as an address that cannot be bound, stops the
  // instance with exit code 1). Serving: switches to it if it listens and peers as the running
  // config does (FAILED_PRECONDITION otherwise: those need a restart); nothing changes on
  // error. Draining or stopped: UNAVAILABLE. `trigger` names the cause in the logs.
  [[nodiscard]] absl::Status Apply(const Loaded& loaded, std::string_view trigger);

  // The control plane's plan: what DNS answers and BGP announces follow it from now on, across
  // config changes, until the next one (serve stale). Kept while booting; ignored once draining.
  void FollowPlan(const v1::Plan& plan);

  // Serving: drains (BGP GRACEFUL_SHUTDOWN for bgp_drain_time, then no new connections while
  // requests in flight finish within drain_timeout, then withdraw and Cease), then stops and
  // calls `stopped`. Booting: stops at once. Once draining, a second call changes nothing.
  void Drain(std::function<void()> stopped);

  // The node's health for the control plane. Any thread.
  v1::HealthReport Report(absl::Time now) const;

 private:
  // Booting -> serving with `loaded`.
  absl::Status Serve(const Loaded& loaded);
  absl::Status StartBgp(const EdgeConfig& config);
  absl::Status StartWorkers();
  // Serving: a new loaded config.
  absl::Status Adopt(const Loaded& loaded, std::string_view trigger);
  // Publishes `base_` with the discovered addresses as what the workers serve.
  absl::Status Publish(std::string_view trigger);
  // What `c` announces and answers, under the plan when there is one.
  void Announce(const EdgeConfig& c);
  void OnResolved(const std::string& cluster, std::vector<asio::ip::address> addresses);
  // Local fate sharing, every kFateCheck while serving: a node that cannot serve at all (a
  // worker loop wedged) withdraws every prefix from its routers at once, without waiting for
  // the control plane (which its report tells: listeners down), and announces again as the plan
  // says once every loop has run for kFateRecovery. Never for its backends: whether a POP whose
  // backends look unreachable should go is the governor's decision.
  void CheckFate();
  static constexpr std::chrono::milliseconds kFateCheck{100};
  static constexpr std::chrono::seconds kFateRecovery{2};

  // The drain's steps, each on a timer of the main loop.
  void WaitBgpDrain(std::chrono::steady_clock::time_point until);
  void StopAccepting();
  void WaitConnections();
  void Stop();

  const InstanceOptions options_;
  asio::io_context& main_loop_;
  Phase phase_ = Phase::kBooting;
  int exit_code_ = 0;
  std::function<void()> stopped_;
  std::chrono::steady_clock::time_point drain_deadline_;
  asio::steady_timer drain_timer_;
  asio::steady_timer fate_timer_;
  // Since when no worker loop has been wedged, while self-withdrawn.
  std::optional<std::chrono::steady_clock::time_point> fate_recovered_since_;

  SharedState shared_;
  // Health checks and outlier ejection run on their own thread; workers read the table.
  asio::io_context health_io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> health_work_;
  std::thread health_thread_;
  // The loaded config, and the one served: `base_` with DNS-discovered addresses filled in.
  std::shared_ptr<const EdgeConfig> base_;
  std::shared_ptr<const EdgeConfig> config_;
  std::map<std::string, std::vector<asio::ip::address>> resolved_;
  std::optional<v1::Plan> plan_;

  // Made before the admin listener, which reads it, so that it goes after it.
  std::unique_ptr<BgpAnnouncer> bgp_;
  std::optional<BgpRestartMarker> bgp_marker_;
  // Set once the speaker runs, for Report() on the control client's thread.
  std::atomic<const BgpAnnouncer*> bgp_for_reports_{nullptr};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<DiscoveryLoop> discovery_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_DAEMON_INSTANCE_H_
