// What the planner acts on, so what makes an edge report at once and the control plane plan at
// once (ReportChanged).
#include <catch2/catch.hpp>

#include "policy/plan/planner.h"

namespace holdfast::policy {
namespace {

v1::HealthReport Report() {
  v1::HealthReport r;
  r.set_pop("fra");
  r.set_node("fra-1");
  r.set_listeners_up(true);
  r.set_open_connections(10);
  r.set_requests_total(1000);
  r.mutable_at()->set_seconds(100);
  v1::ClusterHealth* c = r.add_clusters();
  c->set_cluster("web");
  c->set_healthy_endpoints(3);
  c->set_total_endpoints(4);
  v1::BgpSession* s = r.add_bgp_sessions();
  s->set_peer("192.0.2.1");
  s->set_state("established");
  s->set_uptime_seconds(50);
  return r;
}

TEST_CASE("report: the time and the load go with the heartbeat, not at once") {
  const v1::HealthReport last = Report();
  v1::HealthReport next = last;
  CHECK_FALSE(ReportChanged(last, next));
  next.mutable_at()->set_seconds(101);
  next.set_open_connections(11);
  next.set_requests_total(2000);
  next.mutable_bgp_sessions(0)->set_uptime_seconds(51);
  next.mutable_bgp_sessions(0)->set_prefixes_sent(4);
  CHECK_FALSE(ReportChanged(last, next));
}

TEST_CASE("report: listeners, draining, endpoint health and BGP states are reported at once") {
  const v1::HealthReport last = Report();
  v1::HealthReport next = last;
  next.set_listeners_up(false);
  CHECK(ReportChanged(last, next));
  next = last;
  next.set_draining(true);
  CHECK(ReportChanged(last, next));
  next = last;
  next.mutable_clusters(0)->set_healthy_endpoints(2);
  CHECK(ReportChanged(last, next));
  next = last;
  next.mutable_clusters(0)->set_total_endpoints(5);
  CHECK(ReportChanged(last, next));
  next = last;
  next.add_clusters()->set_cluster("api");
  CHECK(ReportChanged(last, next));
  next = last;
  next.mutable_bgp_sessions(0)->set_state("idle");
  CHECK(ReportChanged(last, next));
  next = last;
  next.clear_bgp_sessions();
  CHECK(ReportChanged(last, next));
}

}  // namespace
}  // namespace holdfast::policy
