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

TEST_CASE("plan-offline shows a POP withdrawn for its own fault and kept where the floor needs it",
          "[ctl][plan]") {
  const RunResult r = Plan({kConfig, "--health", Scenario("ams-backends"), "--format", "json"});
  RequireExit(r, 0);
  const nlohmann::json plan = nlohmann::json::parse(r.out);
  for (const auto& prefix : plan["prefixes"]) {
    for (const auto& pop : prefix["pops"]) {
      if (pop["pop"] != "ams") continue;
      INFO(prefix.dump());
      // api-v4 has two POPs and a floor of two: ams must stay; the others lose it.
      CHECK(pop["state"] == (prefix["prefix"] == "api-v4" ? "ANNOUNCED" : "WITHDRAWN"));
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
