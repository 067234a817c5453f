#include "edge/agent/report.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <vector>

#include "common/proto_time.h"

namespace holdfast::edge {

v1::HealthReport MakeReport(const SharedState& shared, absl::Time now,
                            const std::vector<bgp::PeerStatus>& bgp,
                            const std::vector<bfd::PeerStatus>& bfd) {
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
    for (const bfd::PeerStatus& b : bfd) {
      if (b.config.peer.ToString() != p.address) continue;
      s->set_bfd_state(bfd::SessionStateName(b.stats.state));
      if (b.stats.last_down_diagnostic != bfd::Diagnostic::kNone) {
        s->set_bfd_last_down(bfd::DiagnosticName(b.stats.last_down_diagnostic));
      }
    }
  }
  const std::shared_ptr<const HealthTable> table = shared.health.Current();
  const bool current = table != nullptr && table->config_version == config.version &&
                       table->clusters.size() == config.clusters.size();
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    const ClusterConfig& cluster = config.clusters[i];
    // Before the health table of this config: no checks means every endpoint counts as
    // healthy; with checks, none does until the first results (unchecked: not usable, and
    // not a reason to fail over either).
    std::vector<EndpointHealth> assumed;
    if (!current) {
      assumed.assign(cluster.endpoints.size(),
                     EndpointHealth{cluster.health_check.has_value() ? HealthState::kUnchecked
                                                                     : HealthState::kHealthy,
                                    false});
    }
    const Eligibility e = EligibilityOf(
        cluster, current ? std::span<const EndpointHealth>(table->clusters[i].endpoints)
                         : std::span<const EndpointHealth>(assumed));
    v1::ClusterHealth* c = report.add_clusters();
    c->set_cluster(cluster.name);
    c->set_healthy_endpoints(static_cast<uint32_t>(e.preferred().usable));
    c->set_total_endpoints(static_cast<uint32_t>(e.preferred().total));
    c->set_healthy_weight(static_cast<uint32_t>(e.preferred().usable_weight));
    c->set_total_weight(static_cast<uint32_t>(e.preferred().total_weight));
    c->set_cluster_healthy_endpoints(static_cast<uint32_t>(e.counts().usable));
    c->set_cluster_total_endpoints(static_cast<uint32_t>(e.counts().total));
    c->set_failing_over(e.failing_over());
    if (i < serving->cluster_gates.size() && serving->cluster_gates[i] != nullptr) {
      const GateStatus g = serving->cluster_gates[i]->Status(std::chrono::steady_clock::now());
      c->set_concurrency_limit(g.limit);
      c->set_in_flight(g.in_flight);
      c->set_pending(g.pending);
      c->set_drained_per_second(g.drained_per_second);
      c->set_refused_per_second(g.refused_per_second);
      uint64_t refused = 0;
      for (const uint64_t n : g.refused) refused += n;
      c->set_refused_total(refused);
      c->set_overloaded(g.refused_per_second > 0);
    }
  }
  return report;
}

}  // namespace holdfast::edge
