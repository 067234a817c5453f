// deploy/lab/up and deploy/lab/down, run as the README says, in a temporary lab directory: the
// edges of the example config answer through their own POP's backends, endpoints.json names what
// runs, and down leaves nothing running. The lab binds the example config's fixed loopback ports,
// so this test runs alone (RUN_SERIAL) and fails if another lab is up.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/support/bird.h"
#include "tests/support/dig.h"
#include "tests/support/process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace {

using holdfast::testing::RunResult;
using holdfast::testing::TempDir;
using namespace std::chrono_literals;

const std::string kSourceDir = HF_SOURCE_DIR;

TEST_CASE("deploy/lab/up serves the example config through every node, down stops it all",
          "[lab]") {
  TempDir dir;
  const std::string lab = (dir.path() / "lab").string();
  const RunResult up =
      holdfast::testing::Run({kSourceDir + "/deploy/lab/up", "--dir", lab}, kSourceDir, 300s);
  // Whatever happens below, the lab is stopped.
  struct Down {
    std::string lab;
    ~Down() { holdfast::testing::Run({kSourceDir + "/deploy/lab/down", "--dir", lab}, kSourceDir); }
  } down{lab};
  INFO(up.out << up.err);
  REQUIRE(up.exited);
  REQUIRE(up.exit_code == 0);

  std::ifstream in(lab + "/endpoints.json");
  const nlohmann::json endpoints = nlohmann::json::parse(in);
  CHECK(endpoints["dir"] == lab);
  REQUIRE(endpoints["pops"].size() == 3);
  // Each POP has its own: two web backends each, an api backend at the two POPs that carry it.
  CHECK(endpoints["backends"].size() == 8);
  std::vector<int> pids;
  for (const auto& pop : endpoints["pops"]) {
    for (const auto& node : pop["nodes"]) {
      INFO(node.dump());
      const RunResult r =
          holdfast::testing::Run({"/usr/bin/curl", "-sS", "--max-time", "5",
                                  "http://" + node["http"].get<std::string>() + "/hello"},
                                 kSourceDir);
      // Locality: a node answers through its own POP's backends while they are healthy.
      const std::string own = "backend-web-" + pop["name"].get<std::string>() + "-";
      CHECK(r.out.find(own) == 0);
      const std::string https = node["https"];
      const std::string port = https.substr(https.find(':') + 1);
      const RunResult tls = holdfast::testing::Run(
          {"/usr/bin/curl", "-sS", "--max-time", "5", "--cacert",
           kSourceDir + "/deploy/examples/certs/ca.pem", "--resolve",
           "www.example.net:" + port + ":" + https.substr(0, https.find(':')),
           "https://www.example.net:" + port + "/hello"},
          kSourceDir);
      INFO(tls.err);
      CHECK(tls.out.find(own) == 0);
      const RunResult ready =
          holdfast::testing::Run({"/usr/bin/curl", "-sS", "--max-time", "5",
                                  "http://" + node["admin"].get<std::string>() + "/ready"},
                                 kSourceDir);
      CHECK(ready.out == "ready\n");
      const std::string dns = node["dns"];
      const holdfast::testing::Dig dig{
          .server = dns.substr(0, dns.find(':')),
          .port = static_cast<uint16_t>(std::stoi(dns.substr(dns.find(':') + 1))),
          .tries = 2};
      CHECK(dig({"+short", "example.net", "MX"}).out == "10 mail.example.net.\n");
      pids.push_back(node["pid"]);
    }
  }
  for (const auto& b : endpoints["backends"]) pids.push_back(b["pid"]);

  // Every edge is under the control plane, acknowledged its first version, and reports its BGP
  // session.
  const nlohmann::json& control = endpoints["control"];
  size_t nodes = 0;
  for (const auto& pop : endpoints["pops"]) nodes += pop["nodes"].size();
  pids.push_back(control["pid"]);
  const auto status = [&] {
    return holdfast::testing::Run(
        {kSourceDir + "/build/control-plane/holdfastctl", "status", "--format", "json", "--server",
         control["grpc"], "--ca", control["ca"], "--cert", control["cert"], "--key",
         control["key"]},
        kSourceDir);
  };
  CHECK(holdfast::testing::WaitUntil(
      [&] {
        const RunResult r = status();
        const nlohmann::json s = nlohmann::json::parse(r.out, nullptr, false);
        if (s.is_discarded() || !s.contains("nodes") || s["nodes"].size() != nodes) return false;
        for (const auto& n : s["nodes"]) {
          if (n.value("acked_version", "") != s.value("version", "?")) return false;
          // Its report says its session to BIRD is up.
          if (!n.contains("report") || !n["report"].contains("bgp_sessions") ||
              n["report"]["bgp_sessions"][0].value("state", "") != "established") {
            return false;
          }
        }
        return true;
      },
      30s));

  // BIRD learned the prefixes the POPs announce.
  const nlohmann::json& bird = endpoints["bird"];
  pids.push_back(bird["pid"]);
  CHECK(holdfast::testing::WaitUntil(
      [&] {
        std::set<std::string> prefixes;
        for (const holdfast::testing::BirdRoute& r : holdfast::testing::ParseBirdRoutes(
                 holdfast::testing::Birdc(bird["socket"].get<std::string>(), "show route all"))) {
          prefixes.insert(r.prefix);
        }
        return prefixes.contains("192.0.2.0/24") && prefixes.contains("2001:db8:100::/48") &&
               prefixes.contains("198.51.100.0/24");
      },
      30s));

  const RunResult stopped =
      holdfast::testing::Run({kSourceDir + "/deploy/lab/down", "--dir", lab}, kSourceDir);
  CHECK(stopped.exit_code == 0);
  CHECK(stopped.out.find("stopped 14 process(es)") != std::string::npos);
  for (const int pid : pids) {
    INFO("pid " << pid);
    CHECK(::kill(pid, 0) != 0);
  }
}

}  // namespace
