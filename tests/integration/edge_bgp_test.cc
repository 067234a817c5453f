// holdfast-edge's BGP speaker against a real BIRD 2 on loopback: the POP's prefixes arrive with
// the configured attributes, /bgp and /metrics show the session, SIGTERM re-announces with
// GRACEFUL_SHUTDOWN (RFC 8326) while the edge keeps serving, then withdraws and exits 0, and a
// reload withdraws only the announcement it removes.
//
// BIRD listens on 127.0.0.2 and peers with the edge's node, 127.0.0.1; eBGP on loopback needs
// `multihop` in BIRD (DESIGN.md). The next hops are the node's own addresses (127.0.0.1 and the
// documentation address 2001:db8::1, which the node lists but no listener binds): BIRD resolves
// next hops of a multihop session recursively, and keeps an unresolved one in its table.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/edge_lab.h"
#include "tests/integration/peer_bird.h"

namespace {

using holdfast::testing::EdgeLab;
using holdfast::testing::FreePort;
using holdfast::testing::PeerBird;
using holdfast::testing::PeerBirdOptions;
using holdfast::testing::Process;
using holdfast::testing::RunResult;
using holdfast::testing::TempDir;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

// The http listener binds the node's IPv4 address only: the node's IPv6 address is a
// documentation one, there for the next hop. The prefixes follow as a further top-level key.
constexpr const char* kListeners =
    "  - {name: http, address: 127.0.0.1, port: {http}, protocol: http}\n"
    "prefixes:\n"
    "  - {name: web-v4, cidr: 198.51.100.0/24}\n"
    "  - {name: extra-v4, cidr: 203.0.113.0/24}\n"
    "  - {name: web-v6, cidr: \"2001:db8:100::/48\"}\n";

// The POP with node-1, peering with `bird`; `extra` announces 203.0.113.0/24 too.
std::string Pops(const PeerBird& bird, bool extra, const std::string& hold_time = "3s",
                 const std::string& peer_extra = "") {
  return "  - name: test\n"
         "    region: local\n"
         "    nodes: [{name: node-1, addresses: [127.0.0.1, \"2001:db8::1\"]}]\n"
         "    bgp:\n"
         "      local_asn: 64512\n"
         "      peers: [{address: 127.0.0.2, port: " +
         std::to_string(bird.port()) + ", asn: 65001, hold_time: " + hold_time +
         ", multihop: true" + peer_extra +
         "}]\n"
         "    announce:\n"
         "      - {prefix: web-v4, as_path_prepend: 2, communities: [\"64512:100\", "
         "\"64512:1:2\"], med: 50}\n" +
         (extra ? "      - {prefix: extra-v4}\n" : "") +
         "      - {prefix: web-v6, communities: [\"64512:200\"], med: 60}\n";
}

std::unique_ptr<EdgeLab> StartLab(const PeerBird& bird, const std::string& drain_time,
                                  std::vector<std::string> args = {}) {
  args.insert(args.end(), {"--bgp-drain-time", drain_time});
  return std::make_unique<EdgeLab>(kListeners, EdgeLab::kRoutes, EdgeLab::kClusters, 1, args,
                                   Pops(bird, true));
}

nlohmann::json BgpStatus(const EdgeLab& lab) {
  return nlohmann::json::parse(lab.Admin("/bgp"), nullptr, false);
}

// The one peer of /bgp, or an empty object.
nlohmann::json Peer(const EdgeLab& lab) {
  const nlohmann::json bgp = BgpStatus(lab);
  if (bgp.is_discarded() || !bgp.contains("peers") || bgp["peers"].size() != 1) {
    return nlohmann::json::object();
  }
  return bgp["peers"][0];
}

bool WaitAnnounced(const EdgeLab& lab, const PeerBird& bird) {
  return WaitUntil([&] { return Peer(lab).value("state", "") == "established"; }, 15s) &&
         bird.WaitPresent("198.51.100.0/24") && bird.WaitPresent("203.0.113.0/24") &&
         bird.WaitPresent("2001:db8:100::/48");
}

TEST_CASE("the edge announces its POP's prefixes to BIRD, drains with GRACEFUL_SHUTDOWN, withdraws",
          "[edge][bgp]") {
  PeerBird bird;
  std::unique_ptr<EdgeLab> lab = StartLab(bird, "3", {"--bgp-drain-prepend", "1"});
  const bool up = WaitAnnounced(*lab, bird);
  INFO(lab->edge().Output());
  INFO(bird.ProtocolDetails("holdfast"));
  REQUIRE(up);

  // The configured attributes: prepends, communities and large communities, MED, next hop.
  const std::string v4 = bird.RouteText("198.51.100.0/24");
  const std::string v6 = bird.RouteText("2001:db8:100::/48");
  const std::string plain = bird.RouteText("203.0.113.0/24");
  INFO(v4 << v6 << plain);
  CHECK_THAT(v4, Catch::Contains("BGP.as_path: 64512 64512 64512\n"));
  CHECK_THAT(v4, Catch::Contains("BGP.next_hop: 127.0.0.1"));
  CHECK_THAT(v4, Catch::Contains("BGP.med: 50"));
  CHECK_THAT(v4, Catch::Contains("BGP.community: (64512,100)\n"));
  CHECK_THAT(v4, Catch::Contains("BGP.large_community: (64512, 1, 2)"));
  CHECK_THAT(v6, Catch::Contains("BGP.as_path: 64512\n"));
  CHECK_THAT(v6, Catch::Contains("BGP.next_hop: 2001:db8::1"));
  CHECK_THAT(v6, Catch::Contains("BGP.med: 60"));
  CHECK_THAT(v6, Catch::Contains("BGP.community: (64512,200)"));
  CHECK_THAT(plain, Catch::Contains("BGP.as_path: 64512\n"));
  CHECK_THAT(plain, !Catch::Contains("BGP.med"));
  CHECK_THAT(plain, !Catch::Contains("BGP.community"));

  // /bgp and /metrics show the session.
  REQUIRE(WaitUntil([&] { return Peer(*lab).value("prefixes_sent", 0) == 3; }, 5s));
  const nlohmann::json status = BgpStatus(*lab);
  INFO(status.dump(2));
  CHECK(status["enabled"] == true);
  CHECK(status["local_asn"] == 64512);
  CHECK(status["router_id"] == "127.0.0.1");
  CHECK(status["phase"] == "announcing");
  CHECK(status["announced"].size() == 3);
  CHECK(status["announced"][0]["communities"] == nlohmann::json({"64512:100", "64512:1:2"}));
  const nlohmann::json& peer = status["peers"][0];
  CHECK(peer["address"] == "127.0.0.2");
  CHECK(peer["port"] == bird.port());
  CHECK(peer["asn"] == 65001);
  CHECK(peer["state"] == "established");
  CHECK(peer["uptime_s"].is_number());
  CHECK(peer["hold_time"] == 3);
  CHECK(peer["prefixes_received"] == 0);
  CHECK(peer["last_error"] == "");
  CHECK(peer["last_notification_received"].is_null());
  const std::string labels = "{peer=\"127.0.0.2\",asn=\"65001\"";
  CHECK(lab->Metric("holdfast_bgp_session_state" + labels + ",state=\"established\"}") == 1);
  CHECK(lab->Metric("holdfast_bgp_session_state" + labels + ",state=\"idle\"}") == 0);
  CHECK(lab->Metric("holdfast_bgp_prefixes_sent" + labels + "}") == 3);
  CHECK(lab->Metric("holdfast_bgp_updates_sent_total" + labels + "}") >= 2);
  CHECK(lab->Metric("holdfast_bgp_session_established_total" + labels + "}") == 1);
  CHECK(lab->Metric("holdfast_bgp_session_flaps_total" + labels + "}") == 0);
  CHECK(lab->Metric("holdfast_bgp_session_uptime_seconds" + labels + "}") >= 0);
  CHECK(lab->Metric("holdfast_bgp_announced_prefixes") == 3);

  // SIGTERM: GRACEFUL_SHUTDOWN and one more prepend while the edge still serves, then the routes
  // leave, BIRD is told (Cease), and the edge exits 0.
  lab->edge().Signal(SIGTERM);
  const auto drain_began = std::chrono::steady_clock::now();
  const bool graceful = WaitUntil(
      [&] { return bird.RouteText("198.51.100.0/24").find("(65535,0)") != std::string::npos; }, 5s);
  REQUIRE(graceful);
  const std::string drained = bird.RouteText("198.51.100.0/24");
  INFO(drained);
  CHECK_THAT(drained, Catch::Contains("BGP.community: (64512,100) (65535,0)"));
  CHECK_THAT(drained, Catch::Contains("BGP.as_path: 64512 64512 64512 64512\n"));
  CHECK_THAT(bird.RouteText("2001:db8:100::/48"), Catch::Contains("(65535,0)"));
  CHECK(lab->Status("/") == 200);  // still serving while the peers move traffic away
  CHECK(BgpStatus(*lab)["phase"] == "draining");
  CHECK(bird.WaitAbsent("198.51.100.0/24"));
  CHECK(bird.WaitAbsent("2001:db8:100::/48"));
  CHECK(bird.WaitAbsent("203.0.113.0/24"));
  CHECK(std::chrono::steady_clock::now() - drain_began >= 2500ms);  // the drain time was kept
  const std::optional<int> code = lab->edge().Wait(15s);
  const std::string log = lab->edge().Output();
  INFO(log);
  CHECK(code == std::optional<int>(0));
  CHECK(WaitUntil(
      [&] {
        return bird.ProtocolDetails("holdfast").find("Administrative shutdown") !=
               std::string::npos;
      },
      5s));
  // One line per step, in order.
  size_t at = 0;
  for (const char* step :
       {"event=bgp.drain extra_prepend=1 prefixes=3", "event=bgp.drain_wait seconds=3 ",
        "event=bgp.withdraw_all prefixes=3", "event=bgp.stopped", "event=edge.stopped"}) {
    INFO(step);
    at = log.find(step, at);
    CHECK(at != std::string::npos);
  }
}

TEST_CASE("a reload that removes an announcement withdraws only that prefix",
          "[edge][bgp][reload]") {
  PeerBird bird;
  std::unique_ptr<EdgeLab> lab = StartLab(bird, "1");
  const bool up = WaitAnnounced(*lab, bird);
  INFO(lab->edge().Output());
  REQUIRE(up);
  const uint64_t updates = Peer(*lab)["updates_sent"];

  lab->set_pops(Pops(bird, false));
  lab->WriteConfig(kListeners, EdgeLab::kRoutes, EdgeLab::kClusters);
  lab->edge().Signal(SIGHUP);
  CHECK(bird.WaitAbsent("203.0.113.0/24"));
  CHECK_FALSE(bird.RouteText("198.51.100.0/24").empty());
  CHECK_FALSE(bird.RouteText("2001:db8:100::/48").empty());
  // The same session: no flap, and one UPDATE (the withdrawal), not a full re-announcement.
  CHECK(WaitUntil([&] { return Peer(*lab).value("prefixes_sent", 0) == 2; }, 5s));
  const nlohmann::json peer = Peer(*lab);
  CHECK(peer["established_transitions"] == 1);
  CHECK(peer["updates_sent"] == updates + 1);
  CHECK_THAT(lab->edge().Output(), Catch::Contains("event=bgp.announce version="));
  CHECK_THAT(lab->edge().Output(), Catch::Contains("prefixes=2 added=0 removed=1 changed=0"));

  // A peer's settings are the speaker's own: changing them needs a restart, like a listener.
  lab->set_pops(Pops(bird, false, "6s"));
  lab->WriteConfig(kListeners, EdgeLab::kRoutes, EdgeLab::kClusters);
  lab->edge().Signal(SIGHUP);
  CHECK(WaitUntil(
      [&] {
        return lab->edge().Output().find("BGP peer 127.0.0.2 changes: restart to apply it") !=
               std::string::npos;
      },
      5s));
  CHECK(Peer(*lab)["state"] == "established");
  CHECK_FALSE(bird.RouteText("198.51.100.0/24").empty());
}

TEST_CASE("a router sending more than max_prefixes keeps the session and our routes",
          "[edge][bgp]") {
  PeerBird bird({.exported = 5});
  auto lab = std::make_unique<EdgeLab>(kListeners, EdgeLab::kRoutes, EdgeLab::kClusters, 1,
                                       std::vector<std::string>{"--bgp-drain-time", "0"},
                                       Pops(bird, true, "3s", ", max_prefixes: 2"));
  const bool up = WaitAnnounced(*lab, bird);
  INFO(lab->edge().Output());
  REQUIRE(up);
  // Two of BIRD's five kept, three counted, reported once; the session stays, our routes too.
  CHECK(WaitUntil([&] { return Peer(*lab).value("prefixes_over_limit", 0) == 3; }, 10s));
  const nlohmann::json peer = Peer(*lab);
  CHECK(peer["prefixes_received"] == 2);
  CHECK(peer["state"] == "established");
  CHECK(peer["notifications_sent"] == 0);
  CHECK(lab->Metric("holdfast_bgp_prefixes_over_limit_total{peer=\"127.0.0.2\",asn=\"65001\"}") ==
        3);
  CHECK_THAT(lab->edge().Output(), Catch::Contains("max_prefixes_reached limit=2"));
  CHECK_FALSE(bird.RouteText("198.51.100.0/24").empty());
  CHECK(bird.ProtocolDetails("holdfast").find("Established") != std::string::npos);
}

TEST_CASE("a session BIRD resets is logged with its NOTIFICATION and counted", "[edge][bgp]") {
  PeerBird bird;
  std::unique_ptr<EdgeLab> lab = StartLab(bird, "0");
  const bool up = WaitAnnounced(*lab, bird);
  INFO(lab->edge().Output());
  REQUIRE(up);
  const std::string labels = "{peer=\"127.0.0.2\",asn=\"65001\"}";
  CHECK(lab->Metric("holdfast_bgp_notifications_received_total" + labels) == 0);

  // `birdc restart` ends the session with Cease / Administrative Reset (RFC 4486). (The edge
  // connects again after its connect retry time: the bgp/ interop tests cover that.)
  bird.Cli("restart holdfast");
  CHECK(WaitUntil(
      [&] {
        return lab->edge().Output().find("event=bgp.notification_received") != std::string::npos;
      },
      10s));
  CHECK_THAT(lab->edge().Output(), Catch::Contains("code=cease subcode=administrative_reset"));
  CHECK(lab->Metric("holdfast_bgp_notifications_received_total" + labels) == 1);
  CHECK(lab->Metric("holdfast_bgp_notifications_sent_total" + labels) == 0);
  const nlohmann::json peer = Peer(*lab);
  CHECK(peer["notifications_received"] == 1);
  CHECK(peer["last_notification_received"]["subcode"] == "administrative_reset");
  CHECK(peer["state"] != "established");
}

TEST_CASE("a killed edge comes back as a restarting speaker, and BIRD kept its routes meanwhile",
          "[edge][bgp][restart]") {
  PeerBird bird({.graceful_restart = true});
  std::unique_ptr<EdgeLab> lab = StartLab(bird, "0");
  const bool up = WaitAnnounced(*lab, bird);
  INFO(lab->edge().Output());
  REQUIRE(up);
  CHECK_THAT(lab->edge().Output(), !Catch::Contains("event=bgp.restarting"));
  // BIRD lists the R bit of our OPEN as "Restart recovery": not on a first start.
  CHECK_THAT(bird.ProtocolDetails("holdfast"), !Catch::Contains("Restart recovery"));

  // A crash: no withdrawal, no NOTIFICATION. BIRD's graceful restart helper keeps the routes.
  lab->edge().Signal(SIGKILL);
  REQUIRE(lab->edge().Wait(5s).has_value());
  CHECK(WaitUntil(
      [&] {
        return bird.ProtocolDetails("holdfast").find("Neighbor graceful restart active") !=
               std::string::npos;
      },
      10s));
  CHECK_FALSE(bird.RouteText("198.51.100.0/24").empty());

  // Back: the OPEN sets the R bit, the routes are announced again, then our End-of-RIB ends
  // BIRD's wait.
  lab->StartEdge();
  CHECK_THAT(lab->edge().Output(), Catch::Contains("event=bgp.restarting"));
  CHECK(WaitAnnounced(*lab, bird));
  CHECK(WaitUntil(
      [&] {
        return bird.ProtocolDetails("holdfast").find("Neighbor graceful restart active") ==
               std::string::npos;
      },
      10s));
  INFO(bird.ProtocolDetails("holdfast"));
  CHECK_THAT(bird.ProtocolDetails("holdfast"), Catch::Contains("Restart recovery"));

  // A clean stop withdraws everything: the next start is not a restart.
  lab->edge().Signal(SIGTERM);
  CHECK(lab->edge().Wait(15s) == std::optional<int>(0));
  lab->StartEdge();
  CHECK_THAT(lab->edge().Output(), !Catch::Contains("event=bgp.restarting"));
}

// BFD (RFC 5880, multihop RFC 5883) between the edge and BIRD, 100 ms x 3, beside a BGP hold time
// of 30 s, so that only BFD can take the routes away quickly. These tests run alone, as one ctest
// (edge_bgp_bfd): BIRD's BFD binds the BFD ports on the wildcard address.
constexpr char kBfdPeer[] = ", connect_retry: 1s, bfd: {interval: 100ms, multiplier: 3}";
const PeerBirdOptions kBfdBird = {.hold_time_s = 30, .bfd_interval_ms = 100, .bfd_multiplier = 3};

std::unique_ptr<EdgeLab> StartBfdLab(const PeerBird& bird, int workers = 1) {
  return std::make_unique<EdgeLab>(kListeners, EdgeLab::kRoutes, EdgeLab::kClusters, workers,
                                   std::vector<std::string>{"--bgp-drain-time", "0"},
                                   Pops(bird, true, "30s", kBfdPeer));
}

// BIRD's line for the edge in `show bfd sessions`:
//   127.0.0.1      ---        Up         12:00:00.000    0.100    0.300
std::string BirdBfdSession(const PeerBird& bird) {
  const std::string out = bird.Cli("show bfd sessions");
  const size_t at = out.find(std::string(holdfast::testing::kNodeAddress) + " ");
  return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
}

// Until BGP is established with the routes in BIRD and BFD is up on both sides.
bool WaitBfdUp(const EdgeLab& lab, const PeerBird& bird) {
  return WaitAnnounced(lab, bird) &&
         WaitUntil([&] { return Peer(lab)["bfd"].value("state", "") == "up"; }, 10s) &&
         WaitUntil([&] { return BirdBfdSession(bird).find(" Up ") != std::string::npos; }, 10s);
}

TEST_CASE("a hung edge leaves BIRD within BFD's detection time and comes back after SIGCONT",
          "[edge][bgp][bfd]") {
  PeerBird bird(kBfdBird);
  std::unique_ptr<EdgeLab> lab = StartBfdLab(bird);
  const bool up = WaitBfdUp(*lab, bird);
  INFO(lab->edge().Output());
  INFO(bird.Cli("show bfd sessions"));
  REQUIRE(up);
  // The negotiated timers, as both sides see them: 100 ms each way, detection after 300 ms.
  CHECK_THAT(BirdBfdSession(bird), Catch::Contains("0.100    0.300"));
  const nlohmann::json bfd = Peer(*lab)["bfd"];
  INFO(bfd.dump(2));
  CHECK(bfd["multihop"] == true);
  CHECK(bfd["transmit_interval_ms"] == 100);
  CHECK(bfd["detection_time_ms"] == 300);
  CHECK(bfd["remote_state"] == "up");
  const std::string labels = "{peer=\"127.0.0.2\",local=\"127.0.0.1\"";
  CHECK(lab->Metric("holdfast_bfd_session_state" + labels + ",state=\"up\"}") == 1);
  CHECK(lab->Metric("holdfast_bfd_session_up_transitions_total" + labels + "}") == 1);

  // A hung host: the process stops, its sockets stay open, so no TCP reset tells BIRD. Only BFD
  // can: the routes go long before the 30 s hold time.
  lab->edge().Signal(SIGSTOP);
  const auto stopped = std::chrono::steady_clock::now();
  const bool withdrawn = bird.WaitAbsent("198.51.100.0/24", 10s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - stopped);
  INFO(bird.ProtocolDetails("holdfast"));
  CHECK(withdrawn);
  CHECK(bird.RouteText("2001:db8:100::/48").empty());
  CHECK_THAT(bird.ProtocolDetails("holdfast"), Catch::Contains("BFD session down"));
  CHECK_THAT(BirdBfdSession(bird), Catch::Contains("Down"));
  WARN("BIRD withdrew the hung edge's routes " << took.count() << " ms after SIGSTOP");

  // Awake again: the edge's own BFD saw nothing for longer than the detection time and resets
  // the session BIRD has dropped; it connects again and announces once more.
  lab->edge().Signal(SIGCONT);
  CHECK(WaitBfdUp(*lab, bird));
  CHECK(WaitUntil([&] { return Peer(*lab)["bfd"].value("last_down", "") != "none"; }, 5s));
  CHECK(lab->Metric("holdfast_bfd_session_up_transitions_total" + labels + "}") == 2);
}

TEST_CASE("BFD stays up while wrk drives the edge on both cores", "[edge][bgp][bfd]") {
  PeerBird bird(kBfdBird);
  std::unique_ptr<EdgeLab> lab = StartBfdLab(bird, /*workers=*/2);
  const bool up = WaitBfdUp(*lab, bird);
  INFO(lab->edge().Output());
  REQUIRE(up);
  const std::string bird_since = BirdBfdSession(bird);

  // 10 s of as many requests as two threads and 64 connections can make, through the edge to
  // its backends: every core busy. A BFD packet late by 300 ms would take the session down.
  const RunResult wrk =
      holdfast::testing::Run({"/usr/bin/wrk", "-t2", "-c64", "-d10s", "--timeout", "5s",
                              "http://127.0.0.1:" + std::to_string(lab->http_port()) + "/"},
                             lab->dir(), 60s);
  INFO(wrk.out << wrk.err);
  REQUIRE((wrk.exited && wrk.exit_code == 0));
  std::smatch requests;
  REQUIRE(std::regex_search(wrk.out, requests, std::regex("([0-9]+) requests in")));
  CHECK(std::stol(requests[1]) > 1000);

  const std::string labels = "{peer=\"127.0.0.2\",local=\"127.0.0.1\"}";
  CHECK(lab->Metric("holdfast_bfd_session_up_transitions_total" + labels) == 1);
  CHECK(Peer(*lab)["bfd"]["state"] == "up");
  // BIRD's session has been up since before the load, and its BGP session never went down.
  CHECK(BirdBfdSession(bird) == bird_since);
  CHECK(bird.ProtocolState("holdfast") == "Established");
  CHECK_THAT(bird.ProtocolDetails("holdfast"), !Catch::Contains("BFD session down"));
}

TEST_CASE("a killed edge that stays dead leaves BIRD after its graceful restart time, 5 s",
          "[edge][bgp][restart]") {
  // No BFD here: BIRD learns of the crash from the closed TCP session, then keeps the routes as
  // graceful restart's helper for the restart time the edge advertised.
  PeerBird bird({.graceful_restart = true, .hold_time_s = 30});
  std::unique_ptr<EdgeLab> lab = StartLab(bird, "0");
  const bool up = WaitAnnounced(*lab, bird);
  INFO(lab->edge().Output());
  REQUIRE(up);
  INFO(bird.ProtocolDetails("holdfast"));
  CHECK_THAT(bird.ProtocolDetails("holdfast"), Catch::Contains("Restart time: 5"));

  lab->edge().Signal(SIGKILL);
  REQUIRE(lab->edge().Wait(5s).has_value());
  const auto killed = std::chrono::steady_clock::now();
  CHECK(WaitUntil(
      [&] {
        return bird.ProtocolDetails("holdfast").find("Neighbor graceful restart active") !=
               std::string::npos;
      },
      5s));
  CHECK_FALSE(bird.RouteText("198.51.100.0/24").empty());  // kept while the edge may come back
  CHECK(bird.WaitAbsent("198.51.100.0/24", 20s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed);
  CHECK(took >= 4s);  // the restart time was honoured, not cut short
  CHECK(bird.RouteText("2001:db8:100::/48").empty());
  WARN("BIRD withdrew the dead edge's routes " << took.count() << " ms after SIGKILL");
}

TEST_CASE("a node with only IPv4 addresses announces its IPv6 prefix with a mapped next hop",
          "[edge][bgp]") {
  TempDir dir;
  dir.Write("edge.yaml",
            "listeners:\n"
            "  - {name: http, address: 127.0.0.1, port: " +
                std::to_string(FreePort()) +
                ", protocol: http}\n"
                "prefixes:\n"
                "  - {name: web-v6, cidr: \"2001:db8:100::/48\"}\n"
                "routes:\n"
                "  - {name: web, match: {path_prefix: /}, cluster: web}\n"
                "clusters:\n"
                "  - {name: web, endpoints: [{address: 127.0.0.1, port: 1}]}\n"
                "pops:\n"
                "  - name: test\n"
                "    region: local\n"
                "    nodes: [{name: node-1, addresses: [127.0.0.1]}]\n"
                "    bgp: {local_asn: 64512, peers: [{address: 127.0.0.2, asn: 65001}]}\n"
                "    announce: [{prefix: web-v6}]\n");
  Process edge({HF_EDGE, "--config", (dir.path() / "edge.yaml").string(), "--node", "node-1",
                "--admin", "127.0.0.1:0", "--drain-timeout", "1", "--bgp-drain-time", "0"},
               dir.path() / "edge.log");
  REQUIRE(WaitUntil([&] { return edge.Output().find("event=edge.started") != std::string::npos; },
                    10s));
  // The admin listener's port, as the edge reports it.
  std::smatch admin;
  const std::string log = edge.Output();
  REQUIRE(std::regex_search(log, admin, std::regex("admin_port=([0-9]+)")));
  const RunResult bgp = holdfast::testing::Run(
      {"/usr/bin/curl", "-s", "http://127.0.0.1:" + admin[1].str() + "/bgp"}, dir.path());
  const nlohmann::json j = nlohmann::json::parse(bgp.out, nullptr, false);
  INFO(bgp.out << edge.Output());
  REQUIRE(j.is_object());
  REQUIRE(j["announced"].size() == 1);
  CHECK(j["announced"][0]["next_hop"] == "::ffff:127.0.0.1");
  edge.Signal(SIGTERM);
  CHECK(edge.Wait(15s) == std::optional<int>(0));
}

}  // namespace
