// Endpoint health in holdfast-edge with real backends: active HTTP and TCP checks with rise and
// fall, panic mode when too few endpoints are healthy, and outlier ejection on consecutive 5xx,
// capped by max_ejection_percent. Waits are bounded polls, never fixed sleeps.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/integration/edge_lab.h"

namespace {

using holdfast::testing::EdgeLab;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

constexpr const char* kCheckedClusters =
    "  - name: web\n"
    "    endpoints: [{address: 127.0.0.1, port: {web1}}, {address: 127.0.0.1, port: {web2}}]\n"
    "    health_check: {protocol: http, path: /healthz, interval: 200ms, timeout: 150ms,"
    " rise: 2, fall: 2}\n"
    "    outlier_detection: {consecutive_errors: 0}\n"
    "  - name: api\n"
    "    endpoints: [{address: 127.0.0.1, port: {api1}}]\n"
    "    health_check: {protocol: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}\n";

// The health /clusters reports for an endpoint: "healthy", "unhealthy", "unchecked".
std::string HealthOf(const EdgeLab& lab, const std::string& cluster, const std::string& key) {
  const nlohmann::json j = nlohmann::json::parse(lab.Admin("/clusters"));
  for (const auto& c : j["clusters"]) {
    if (c["name"] != cluster) continue;
    for (const auto& e : c["endpoints"]) {
      if (e["address"] == key) return e.value("health", "");
    }
  }
  return "";
}

nlohmann::json ClusterReport(const EdgeLab& lab, const std::string& cluster) {
  const nlohmann::json j = nlohmann::json::parse(lab.Admin("/clusters"));
  for (const auto& c : j["clusters"]) {
    if (c["name"] == cluster) return c;
  }
  return {};
}

// Backends that answered `n` GETs of /x through the edge.
std::multiset<std::string> Spread(const EdgeLab& lab, int n) {
  std::multiset<std::string> seen;
  for (int i = 0; i < n; ++i) seen.insert(lab.Get("/x"));
  return seen;
}

TEST_CASE("an endpoint failing its HTTP checks is taken out after fall, back after rise",
          "[edge][health]") {
  EdgeLab lab(EdgeLab::kListeners, EdgeLab::kRoutes, kCheckedClusters, /*workers=*/1);
  const std::string web2 = lab.BackendKey("web2");
  REQUIRE(WaitUntil([&] { return HealthOf(lab, "web", web2) == "healthy"; }, 5s));

  lab.BackendGet("web2", "/fail-health");
  REQUIRE(WaitUntil([&] { return HealthOf(lab, "web", web2) == "unhealthy"; }, 5s));
  CHECK(lab.edge().Output().find("event=health.endpoint_down cluster=web endpoint=" + web2) !=
        std::string::npos);
  CHECK(ClusterReport(lab, "web")["endpoints"][1]["last_check_error"] == "status 503");
  // All traffic goes to the healthy one; none is lost.
  CHECK(Spread(lab, 6).count("web1 /x\n") == 6);

  lab.BackendGet("web2", "/heal");
  REQUIRE(WaitUntil([&] { return HealthOf(lab, "web", web2) == "healthy"; }, 5s));
  CHECK(Spread(lab, 6).count("web2 /x\n") == 3);
}

TEST_CASE("a TCP check marks a dead backend unhealthy with the connect error", "[edge][health]") {
  EdgeLab lab(EdgeLab::kListeners, EdgeLab::kRoutes, kCheckedClusters);
  const std::string api1 = lab.BackendKey("api1");
  REQUIRE(WaitUntil([&] { return HealthOf(lab, "api", api1) == "healthy"; }, 5s));
  lab.KillBackend("api1");
  REQUIRE(WaitUntil([&] { return HealthOf(lab, "api", api1) == "unhealthy"; }, 5s));
  const std::string error = ClusterReport(lab, "api")["endpoints"][0]["last_check_error"];
  CHECK(error.find("connect") != std::string::npos);
  CHECK(lab.Metric("holdfast_endpoints{cluster=\"api\",state=\"unhealthy\"}") == 1);
}

TEST_CASE("when every check fails, the cluster fails open in panic mode and says so",
          "[edge][health]") {
  EdgeLab lab(EdgeLab::kListeners, EdgeLab::kRoutes, kCheckedClusters, /*workers=*/1);
  REQUIRE(WaitUntil([&] { return ClusterReport(lab, "web").value("eligible", 0) == 2; }, 5s));
  // A broken health signal, not broken backends: exactly what must not blackhole a cluster.
  lab.BackendGet("web1", "/fail-health");
  lab.BackendGet("web2", "/fail-health");
  REQUIRE(WaitUntil([&] { return ClusterReport(lab, "web").value("panic", false); }, 5s));
  CHECK(Spread(lab, 4) ==
        std::multiset<std::string>{"web1 /x\n", "web1 /x\n", "web2 /x\n", "web2 /x\n"});
  CHECK(lab.Metric("holdfast_cluster_panic{cluster=\"web\"}") == 1);
  CHECK(lab.Metric("holdfast_panic_picks_total{cluster=\"web\"}") >= 4);
  CHECK(lab.edge().Output().find("event=cluster.panic_entered cluster=web") != std::string::npos);
}

TEST_CASE("with panic mode off, a cluster whose checks all fail answers 503", "[edge][health]") {
  std::string clusters = kCheckedClusters;
  clusters.replace(clusters.find("    outlier_detection"), 0, "    panic_threshold_percent: 0\n");
  EdgeLab lab(EdgeLab::kListeners, EdgeLab::kRoutes, clusters);
  REQUIRE(WaitUntil([&] { return ClusterReport(lab, "web").value("eligible", 0) == 2; }, 5s));
  lab.BackendGet("web1", "/fail-health");
  lab.BackendGet("web2", "/fail-health");
  REQUIRE(WaitUntil([&] { return ClusterReport(lab, "web").value("eligible", 1) == 0; }, 5s));
  const holdfast::testing::RunResult r = lab.Curl({"-i", lab.Url("/x")});
  CHECK(r.out.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(r.out.find("Retry-After: 1") != std::string::npos);
}

TEST_CASE("consecutive 5xx eject an endpoint, never more than max_ejection_percent",
          "[edge][health]") {
  EdgeLab lab(EdgeLab::kListeners, EdgeLab::kRoutes,
              "  - name: web\n"
              "    endpoints: [{address: 127.0.0.1, port: {web1}},"
              " {address: 127.0.0.1, port: {web2}}]\n"
              "    outlier_detection: {consecutive_errors: 3, base_ejection_time: 30s,"
              " max_ejection_percent: 50}\n"
              "  - name: api\n"
              "    endpoints: [{address: 127.0.0.1, port: {api1}}]\n",
              /*workers=*/1);
  lab.BackendGet("web2", "/fail-all");
  // Round robin alternates; web2's third 500 in a row ejects it.
  REQUIRE(WaitUntil(
      [&] {
        lab.Get("/x");
        return lab.Metric("holdfast_ejections_total{cluster=\"web\"}") == 1;
      },
      10s));
  CHECK(Spread(lab, 6).count("web1 /x\n") == 6);
  CHECK(lab.edge().Output().find("event=health.endpoint_ejected cluster=web endpoint=" +
                                 lab.BackendKey("web2")) != std::string::npos);

  // The other one fails too, but ejecting it would leave nothing: the cap holds.
  lab.BackendGet("web1", "/fail-all");
  REQUIRE(WaitUntil(
      [&] {
        lab.Get("/x");
        return lab.Metric("holdfast_ejections_capped_total{cluster=\"web\"}") >= 1;
      },
      10s));
  CHECK(lab.Metric("holdfast_ejections_total{cluster=\"web\"}") == 1);
  CHECK(lab.Metric("holdfast_endpoints{cluster=\"web\",state=\"ejected\"}") == 1);
}

TEST_CASE("locality: an edge sends to its own POP's backends, then its region's, then the rest",
          "[edge][health]") {
  // node-1 is in POP test; web1 stands in it, web2 in another POP of its region, api1 (serving
  // as a third web backend) in another region.
  EdgeLab lab(EdgeLab::kListeners, EdgeLab::kRoutes,
              "  - name: web\n"
              "    endpoints: [{address: 127.0.0.1, port: {web1}, pop: test},"
              " {address: 127.0.0.1, port: {web2}, pop: near},"
              " {address: 127.0.0.1, port: {api1}, pop: far}]\n"
              "    health_check: {protocol: http, path: /healthz, interval: 200ms,"
              " timeout: 150ms, rise: 1, fall: 1}\n"
              "    panic_threshold_percent: 0\n"
              "  - name: api\n"
              "    endpoints: [{address: 127.0.0.1, port: {api1}}]\n",
              /*workers=*/1, {},
              "  - name: test\n    region: local\n"
              "    nodes: [{name: node-1, addresses: [127.0.0.1]}]\n"
              "  - name: near\n    region: local\n"
              "    nodes: [{name: node-2, addresses: [127.0.0.3]}]\n"
              "  - name: far\n    region: elsewhere\n"
              "    nodes: [{name: node-3, addresses: [127.0.0.4]}]\n");
  REQUIRE(WaitUntil([&] { return HealthOf(lab, "web", lab.BackendKey("web1")) == "healthy"; }, 5s));
  CHECK(Spread(lab, 4).count("web1 /x\n") == 4);
  CHECK_FALSE(ClusterReport(lab, "web").value("failing_over", true));

  // Its own POP's backend fails: the region's takes the traffic, and the edge says so.
  lab.BackendGet("web1", "/fail-health");
  REQUIRE(WaitUntil([&] { return ClusterReport(lab, "web").value("failing_over", false); }, 5s));
  CHECK(Spread(lab, 4).count("web2 /x\n") == 4);
  CHECK(lab.Metric("holdfast_cluster_failing_over{cluster=\"web\"}") == 1);
  CHECK(lab.edge().Output().find("event=cluster.failover_started cluster=web") !=
        std::string::npos);

  // The region's fails too: another region's.
  lab.BackendGet("web2", "/fail-health");
  REQUIRE(
      WaitUntil([&] { return HealthOf(lab, "web", lab.BackendKey("web2")) == "unhealthy"; }, 5s));
  CHECK(Spread(lab, 4).count("api1 /x\n") == 4);

  // Its own is back: all traffic returns home.
  lab.BackendGet("web1", "/heal");
  REQUIRE(WaitUntil([&] { return !ClusterReport(lab, "web").value("failing_over", true); }, 5s));
  CHECK(Spread(lab, 4).count("web1 /x\n") == 4);
  CHECK(lab.Metric("holdfast_cluster_failing_over{cluster=\"web\"}") == 0);
}

}  // namespace
