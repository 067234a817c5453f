#include "edge/agent/report.h"

#include <algorithm>

#include "common/proto_time.h"

namespace holdfast::edge {

v1::HealthReport MakeReport(const SharedState& shared, absl::Time now,
                            const std::vector<bgp::PeerStatus>& bgp) {
  v1::HealthReport report;
  *report.mutable_at() = ToProtoTimestamp(now);
  const std::shared_ptr<const Serving> serving = shared.serving.Current();
  if (serving == nullptr) return report;
  const EdgeConfig& config = *serving->config;
  report.set_pop(config.pop);
  report.set_node(config.node);
  const size_t wedged =
      shared.watchdog == nullptr ? 0 : shared.watchdog->Wedged(Watchdog::Clock::now());
  report.set_listeners_up(!shared.draining.load() && wedged == 0);
  report.set_draining(shared.drain_started.load());
  report.set_open_connections(
      static_cast<uint64_t>(std::max<int64_t>(0, shared.open_connections.load())));
  uint64_t requests = 0;
  for (const ListenerMetrics& l : shared.metrics->listener) requests += Read(l.requests);
  report.set_requests_total(requests);
  for (const bgp::PeerStatus& p : bgp) {
    v1::BgpSession* s = report.add_bgp_sessions();
    s->set_peer(p.address);
    s->set_asn(p.asn);
    s->set_state(bgp::StateName(p.state));
    s->set_uptime_seconds(p.uptime.has_value() ? static_cast<uint64_t>(p.uptime->count()) : 0);
    s->set_prefixes_sent(p.stats.prefixes_sent);
    s->set_prefixes_received(p.stats.prefixes_received);
    s->set_last_error(p.stats.last_error);
  }
  const std::shared_ptr<const HealthTable> table = shared.health.Current();
  const bool current = table != nullptr && table->config_version == config.version &&
                       table->clusters.size() == config.clusters.size();
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    v1::ClusterHealth* c = report.add_clusters();
    c->set_cluster(config.clusters[i].name);
    c->set_total_endpoints(static_cast<uint32_t>(config.clusters[i].endpoints.size()));
    uint32_t healthy = 0;
    if (current) {
      for (const EndpointHealth& e : table->clusters[i].endpoints) {
        healthy += e.state == HealthState::kHealthy && !e.ejected ? 1 : 0;
      }
    } else if (!config.clusters[i].health_check.has_value()) {
      healthy = c->total_endpoints();  // no checks and no table yet: all count as healthy
    }
    c->set_healthy_endpoints(healthy);
  }
  return report;
}

}  // namespace holdfast::edge
