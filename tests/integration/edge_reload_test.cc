// Reloading holdfast-edge's config while it serves: SIGHUP and a changed file apply a good
// config from the next request on; a bad one is refused with its reason and the running config
// keeps serving; a listener change is refused (it needs a restart).
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/integration/edge_lab.h"

namespace {

using holdfast::testing::EdgeLab;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

// The API route moves from /v1/ to /v2/.
constexpr const char* kRoutesV2 =
    "  - {name: api, match: {host: api.example.net, path_prefix: /v2/}, cluster: api}\n"
    "  - {name: web, match: {path_prefix: /}, cluster: web}\n";

std::string Version(const EdgeLab& lab) {
  return nlohmann::json::parse(lab.Admin("/config"))["version"];
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("SIGHUP applies a new config, the old one serves until then", "[edge][reload]") {
  EdgeLab lab;
  const std::string before = Version(lab);
  CHECK(lab.Get("/v2/x", {"-H", "Host: api.example.net"}).rfind("web", 0) == 0);

  lab.WriteConfig(EdgeLab::kListeners, kRoutesV2, EdgeLab::kClusters);
  lab.edge().Signal(SIGHUP);
  REQUIRE(WaitUntil(
      [&] { return lab.edge().Output().find("event=edge.reloaded") != std::string::npos; }, 10s));
  CHECK(Version(lab) != before);
  CHECK(lab.Get("/v2/x", {"-H", "Host: api.example.net"}) == "api1 /v2/x\n");
  CHECK(lab.Get("/v1/x", {"-H", "Host: api.example.net"}).rfind("web", 0) == 0);
}

TEST_CASE("a bad config is refused with its reason and the running one keeps serving",
          "[edge][reload]") {
  EdgeLab lab;
  const std::string before = Version(lab);
  lab.WriteRawConfig("listeners:\n  - {name: http, port: {http}, protocol: htp}\n");
  lab.edge().Signal(SIGHUP);
  REQUIRE(WaitUntil(
      [&] { return lab.edge().Output().find("event=edge.reload_rejected") != std::string::npos; },
      10s));
  const std::string log = lab.edge().Output();
  CHECK(log.find("event=config.finding") != std::string::npos);
  CHECK(log.find("the config does not validate (1 error): ") != std::string::npos);
  CHECK(Version(lab) == before);
  CHECK(lab.Get("/v1/x", {"-H", "Host: api.example.net"}) == "api1 /v1/x\n");
  CHECK(lab.Status("/") == 200);
  // Not refused again every second while the file stays as it is. (The signal and the file
  // poll may each have tried it once already.)
  const size_t refusals = Count(lab.edge().Output(), "event=edge.reload_rejected");
  std::this_thread::sleep_for(2500ms);
  CHECK(Count(lab.edge().Output(), "event=edge.reload_rejected") == refusals);
}

TEST_CASE("an edited config file is picked up without a signal", "[edge][reload]") {
  EdgeLab lab;
  lab.WriteConfig(EdgeLab::kListeners, kRoutesV2, EdgeLab::kClusters);
  REQUIRE(WaitUntil(
      [&] {
        return lab.edge().Output().find("event=edge.reloaded trigger=file_changed") !=
               std::string::npos;
      },
      10s));
  CHECK(lab.Get("/v2/x", {"-H", "Host: api.example.net"}) == "api1 /v2/x\n");
  // Once: the file's new time is remembered.
  CHECK(Count(lab.edge().Output(), "event=edge.reloaded") == 1);
}

TEST_CASE("a reload that changes the listeners is refused: it needs a restart", "[edge][reload]") {
  EdgeLab lab;
  lab.WriteConfig("  - {name: http, port: {http}, protocol: http}\n", EdgeLab::kRoutes,
                  EdgeLab::kClusters);
  lab.edge().Signal(SIGHUP);
  REQUIRE(WaitUntil(
      [&] { return lab.edge().Output().find("event=edge.reload_rejected") != std::string::npos; },
      10s));
  CHECK(lab.edge().Output().find("restart to apply it") != std::string::npos);
  CHECK(lab.Status("/") == 200);
}

TEST_CASE("keep-alive connections and requests in flight survive a reload", "[edge][reload]") {
  EdgeLab lab;
  std::string slow;
  std::thread client([&] { slow = lab.Get("/slow?ms=1000"); });
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_upstream_requests_active{cluster=\"web\"}") == 1; }, 5s));
  lab.WriteConfig(EdgeLab::kListeners, kRoutesV2, EdgeLab::kClusters);
  lab.edge().Signal(SIGHUP);
  REQUIRE(WaitUntil(
      [&] { return lab.edge().Output().find("event=edge.reloaded") != std::string::npos; }, 10s));
  client.join();
  CHECK(slow.find("slow 1000") != std::string::npos);
  // Counters go on across the reload.
  CHECK(lab.Metric("holdfast_upstream_requests_total{cluster=\"web\"}") >= 1);
}

}  // namespace
