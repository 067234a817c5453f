// The one place endpoint health lives: an immutable snapshot of every endpoint's EndpointHealth
// (active check state + passive ejection), with what the reporters show beside it. The
// HealthMonitor (monitor.h) builds a new table on every change and publishes it through a
// Snapshot<HealthTable>; workers, the admin listener and /metrics read it.
//
// Indices follow the config snapshot the monitor was built from (`config_version`): cluster i is
// EdgeConfig::clusters[i], endpoint j its endpoints[j]. A reader built on another config snapshot
// must not apply the table (compare config_version).
//
// Freshness: `generation` moves, and a new table is published at once, whenever any endpoint's
// EndpointHealth (state or ejected) changes. Counters and last errors alone do not move the
// generation; they are republished (same generation) at most once per the monitor's
// report_refresh, so reporters see them at most that old while workers, which compare only the
// generation, do no work for them. Immutable once published: safe to share between threads.
#ifndef HOLDFAST_EDGE_HEALTH_HEALTH_TABLE_H_
#define HOLDFAST_EDGE_HEALTH_HEALTH_TABLE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "edge/upstream/endpoint.h"

namespace holdfast::edge {

// What the reporters show about one endpoint beside its EndpointHealth.
struct EndpointHealthReport {
  std::string key;  // the endpoint's "address:port"
  // Active checks (0 when the cluster has none).
  uint32_t consecutive_successes = 0;
  uint32_t consecutive_failures = 0;
  // Why the latest check failed ("connect: Connection refused", "status 503"); empty when the
  // latest check passed or none has run.
  std::string last_check_error;
  uint64_t check_failures = 0;  // failed checks, in total
  // Passive outlier detection.
  uint32_t consecutive_errors = 0;  // errors reported by workers in a row
  uint32_t ejections = 0;           // times ejected, in total
  // When `ejected`: when it returns, on the monotonic clock (std::chrono::steady_clock).
  std::chrono::steady_clock::time_point ejected_until;
};

struct ClusterHealth {
  std::string name;
  bool active_checks = false;  // whether health_check is configured
  bool outlier_detection = false;
  // By endpoint index: what ComputeEligibility() takes.
  std::vector<EndpointHealth> endpoints;
  std::vector<EndpointHealthReport> reports;  // same indices
  // Totals for /metrics, monotonic for the monitor's life.
  uint64_t checks = 0;
  uint64_t check_failures = 0;
  uint64_t ejections = 0;
  // Ejections max_ejection_percent prevented.
  uint64_t ejections_capped = 0;
};

struct HealthTable {
  // Moves on every change of any EndpointHealth, and never goes back, also across monitors that
  // publish into the same Snapshot (a monitor starts above the generation it finds there).
  uint64_t generation = 0;
  // The config snapshot the indices refer to (EdgeConfig::version).
  std::string config_version;
  std::vector<ClusterHealth> clusters;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_HEALTH_HEALTH_TABLE_H_
