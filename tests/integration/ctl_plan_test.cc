// holdfastctl plan-offline, run as an SRE would: the example config and the example scenarios
// under deploy/examples/scenarios, plus broken scenarios.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace {

using holdfast::testing::RunResult;
using holdfast::testing::TempDir;

const std::string kSourceDir = HF_SOURCE_DIR;
const std::string kConfig = kSourceDir + "/deploy/examples/holdfast.yaml";

RunResult Plan(const std::vector<std::string>& args, const std::string& cwd = kSourceDir) {
  std::vector<std::string> argv = {HF_HOLDFASTCTL, "plan-offline"};
  argv.insert(argv.end(), args.begin(), args.end());
  return holdfast::testing::Run(argv, cwd);
}

std::string Scenario(const std::string& name) {
  return kSourceDir + "/deploy/examples/scenarios/" + name + ".yaml";
}

void RequireExit(const RunResult& r, int code) {
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  REQUIRE(r.exited);
  REQUIRE(r.exit_code == code);
}

TEST_CASE("plan-offline keeps every POP announced through a backbone cut (the 2021 case)",
          "[ctl][plan]") {
  const RunResult r = Plan({kConfig, "--health", Scenario("backbone-cut"), "--format", "json"});
  RequireExit(r, 0);
  const nlohmann::json plan = nlohmann::json::parse(r.out);
  for (const auto& prefix : plan["prefixes"]) {
    INFO(prefix.dump());
    CHECK(prefix["announcing"] == prefix["pops"].size());
    for (const auto& pop : prefix["pops"]) {
      CHECK(pop["state"] == "ANNOUNCED");
      CHECK(pop["reason"].get<std::string>().find("shared fault") != std::string::npos);
    }
  }
  for (const auto& service : plan["services"]) CHECK_FALSE(service["answers"].empty());
}

TEST_CASE("plan-offline withdraws a broken POP and refuses a drain that breaks the floor",
          "[ctl][plan]") {
  const RunResult r = Plan({kConfig, "--health", Scenario("fra-down")});
  RequireExit(r, 0);
  CHECK(r.out.find("fra        WITHDRAWN  withdrawn: cannot serve") != std::string::npos);
  CHECK(r.out.find("drain iad: refused: drain of iad would leave 1 of required 2 for prefix "
                   "web-v4") != std::string::npos);
}

TEST_CASE("plan-offline withdraws a POP for a fault of its own, after hysteresis", "[ctl][plan]") {
  const RunResult r = Plan({kConfig, "--health", Scenario("ams-backends"), "--format", "json"});
  RequireExit(r, 0);
  const nlohmann::json plan = nlohmann::json::parse(r.out);
  for (const auto& prefix : plan["prefixes"]) {
    INFO(prefix.dump());
    CHECK(prefix["announcing"] >= prefix["floor"]);
    for (const auto& pop : prefix["pops"]) {
      CHECK(pop["state"] == (pop["pop"] == "ams" ? "WITHDRAWN" : "ANNOUNCED"));
    }
  }
}

TEST_CASE("plan-offline reports a scenario naming what the config lacks", "[ctl][plan]") {
  TempDir dir;
  dir.Write("bad.yaml", "pops:\n  - {name: lhr, stale: true}\nnodes:\n  - {name: ams-9}\n");
  const RunResult r = Plan({kConfig, "--health", "bad.yaml"}, dir.path());
  RequireExit(r, 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("bad.yaml:2:12: error: pops[0].name: the config has no POP named 'lhr' "
                   "[HF2002]") != std::string::npos);
  CHECK(r.err.find("bad.yaml:4:12: error: nodes[0].name: the config has no node named 'ams-9' "
                   "[HF2002]") != std::string::npos);
}

TEST_CASE("plan-offline reports a malformed scenario like a config", "[ctl][plan]") {
  TempDir dir;
  dir.Write("typo.yaml", "stepz: 3\n");
  const RunResult r = Plan({kConfig, "--health", "typo.yaml"}, dir.path());
  RequireExit(r, 1);
  CHECK(r.err.find("typo.yaml:1:1: error: unknown key 'stepz'; did you mean 'steps'? [HF1005]") !=
        std::string::npos);
}

TEST_CASE("plan-offline without --health is a usage error", "[ctl][plan]") {
  RequireExit(Plan({kConfig}), 2);
}

}  // namespace

namespace {

TEST_CASE("validate --what-if passes the example with its region warnings", "[ctl][whatif]") {
  const RunResult r = holdfast::testing::Run(
      {HF_HOLDFASTCTL, "validate", "--what-if", "--no-files", kConfig}, kSourceDir);
  RequireExit(r, 0);
  CHECK(r.out.find("in scenario 'region eu-west down', prefix web-v4 has 1 of required 2 POPs "
                   "announcing [HF6002]") != std::string::npos);
  CHECK(r.out.find("error") == std::string::npos);
}

TEST_CASE("validate --what-if rejects a floor that one POP's loss breaks", "[ctl][whatif]") {
  TempDir dir;
  dir.Write("c.yaml", R"(
prefixes:
  - {name: web, cidr: 192.0.2.0/24, floor: {min_pops: 2}}
pops:
  - name: a
    region: r1
    nodes: [{name: a1, addresses: [127.0.1.1]}]
    bgp: {local_asn: 65001, peers: [{address: 127.0.0.2, asn: 65000}]}
    announce: [{prefix: web}]
  - name: b
    region: r2
    nodes: [{name: b1, addresses: [127.0.2.1]}]
    bgp: {local_asn: 65002, peers: [{address: 127.0.0.2, asn: 65000}]}
    announce: [{prefix: web}]
)");
  const RunResult plain =
      holdfast::testing::Run({HF_HOLDFASTCTL, "validate", "c.yaml"}, dir.path());
  RequireExit(plain, 0);
  const RunResult r =
      holdfast::testing::Run({HF_HOLDFASTCTL, "validate", "--what-if", "c.yaml"}, dir.path());
  RequireExit(r, 1);
  CHECK(r.out.find("c.yaml:3:5: error: prefixes[0]: in scenario 'POP a down', prefix web has 1 "
                   "of required 2 POPs announcing [HF6001]") != std::string::npos);
  CHECK(r.out.find("in scenario 'POP b down'") != std::string::npos);
}

}  // namespace
