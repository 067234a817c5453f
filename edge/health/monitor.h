// HealthMonitor: runs the active health checks of every cluster that configures them, applies
// the request outcomes workers report (passive outlier detection), and publishes the result as
// one HealthTable (health_table.h) through a Snapshot<HealthTable>.
//
// Threading: the monitor runs on the one io_context it is given, which the daemon runs on one
// thread of its own (never on several threads at once). Start(), Stop() and ReportOutcome() may
// be called from any thread; they post onto that io_context.
//
// Lifetime: `io` and `out` must outlive the monitor. The monitor may be destroyed at any time,
// also while `io` runs: destruction stops it, and its internal state lives on (held by its
// pending handlers) until the io_context has run or dropped them. After Stop() returns, the
// monitor never writes to `out` again.
//
// Publishing: Create() publishes the initial table at once (endpoints of checked clusters
// kUnchecked, the others kHealthy). Each change of an endpoint's state or ejection publishes a
// new table with the next generation; counters and last errors alone are republished, with the
// same generation, at most once per `report_refresh`.
#ifndef HOLDFAST_EDGE_HEALTH_MONITOR_H_
#define HOLDFAST_EDGE_HEALTH_MONITOR_H_

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/snapshot.h"
#include "edge/health/active_check.h"
#include "edge/health/health_table.h"
#include "edge/health/outlier.h"

namespace holdfast::edge {

struct MonitoredEndpoint {
  std::string key;  // "address:port", as in logs and reports
  asio::ip::tcp::endpoint address;
};

// One cluster as the monitor sees it; index i of the list is cluster i of the config snapshot.
struct MonitoredCluster {
  std::string name;
  std::vector<MonitoredEndpoint> endpoints;
  // nullopt: no active checks; every endpoint is kHealthy from the start.
  std::optional<ActiveCheckParams> active_check;
  OutlierParams outlier;
};

struct HealthMonitorOptions {
  // Copied into every table (HealthTable::config_version).
  std::string config_version;
  // How stale the counters and last errors of the published table may get; zero publishes only
  // on state changes.
  absl::Duration report_refresh = absl::Seconds(1);
};

class HealthMonitor {
 public:
  // Validates `clusters` (InvalidArgument naming the cluster: an interval or timeout not above
  // zero, rise or fall of 0, max_ejection_percent above 100, ejection enabled with a base time
  // not above zero) and publishes the initial table into `out`. Nothing runs before Start().
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HealthMonitor>> Create(
      asio::io_context& io, std::vector<MonitoredCluster> clusters, Snapshot<HealthTable>& out,
      HealthMonitorOptions options = {});

  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Starts the active checks: each endpoint's first check runs at CheckPhase() after Start(),
  // then one every interval. Once; a call after Stop() does nothing.
  void Start();
  // Cancels every timer and check in flight; the monitor's handlers then finish promptly, so
  // io.run() returns if nothing else is on the io_context. Idempotent.
  void Stop();

  // How one request to endpoint `endpoint` of cluster `cluster` went. Cheap for the caller (one
  // post, none when the cluster's outlier detection is off); indices out of range are ignored.
  void ReportOutcome(size_t cluster, size_t endpoint, RequestOutcome outcome);

 private:
  class Impl;

  explicit HealthMonitor(std::shared_ptr<Impl> impl);

  std::shared_ptr<Impl> impl_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_HEALTH_MONITOR_H_
