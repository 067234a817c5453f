// The incident replays (deploy/lab/replay), each in a lab of its own (deploy/lab/up --fast in a
// temporary directory), against BIRD, dig and curl: what a user watching them would check. With
// the governor on no prefix ever goes dark; with it off (Facebook 2021) the blackhole appears,
// which proves the governor is what prevents it. The lab binds the example config's fixed
// loopback ports, so each replay runs alone (RUN_SERIAL). Each writes its figures to
// figures/NAME-governor-G.json beside this binary; tests/run prints them.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace {

using holdfast::testing::RunResult;
using holdfast::testing::TempDir;
using namespace std::chrono_literals;

const std::string kSourceDir = HF_SOURCE_DIR;
const std::string kFiguresDir = HF_FIGURES_DIR;

// Starts a fast lab, replays `name` with the governor `governor`, stops the lab; the figures.
nlohmann::json Replay(const std::string& name, const std::string& governor) {
  TempDir dir;
  const std::string lab = (dir.path() / "lab").string();
  const RunResult up = holdfast::testing::Run(
      {kSourceDir + "/deploy/lab/up", "--fast", "--dir", lab}, kSourceDir, 300s);
  struct Down {
    std::string lab;
    ~Down() { holdfast::testing::Run({kSourceDir + "/deploy/lab/down", "--dir", lab}, kSourceDir); }
  } down{lab};
  INFO(up.out << up.err);
  REQUIRE(up.exited);
  REQUIRE(up.exit_code == 0);
  std::filesystem::create_directories(kFiguresDir);
  const std::string figures = kFiguresDir + "/" + name + "-governor-" + governor + ".json";
  const RunResult replay = holdfast::testing::Run({kSourceDir + "/deploy/lab/replay", name, "--dir",
                                                   lab, "--governor", governor, "--json", figures},
                                                  kSourceDir, 120s);
  INFO(replay.out << replay.err);
  REQUIRE(replay.exited);
  REQUIRE(replay.exit_code == 0);
  std::ifstream in(figures);
  const nlohmann::json f = nlohmann::json::parse(in, nullptr, false);
  REQUIRE_FALSE(f.is_discarded());
  std::cout << name << " (governor " << governor << "): " << f.dump() << "\n";
  return f;
}

TEST_CASE("fb2021, every POP's backends die: no prefix dark, no empty answer, the freeze raised",
          "[replay][fb2021-backends]") {
  const nlohmann::json f = Replay("fb2021-backends", "on");
  INFO(f.dump(2));
  CHECK(f["samples"].get<int>() >= 10);
  CHECK(f["seconds_with_a_prefix_dark"].get<double>() == 0);
  CHECK(f["empty_dns_answers"].get<int>() == 0);
  CHECK(f["freeze"].get<bool>());
  CHECK(f.value("freeze_evidence", "").find("correlated failure") != std::string::npos);
}

TEST_CASE("fb2021, every POP's backends die, governor off: every prefix goes dark",
          "[replay][fb2021-backends-off]") {
  const nlohmann::json f = Replay("fb2021-backends", "off");
  INFO(f.dump(2));
  CHECK(f["seconds_with_a_prefix_dark"].get<double>() > 0);
  CHECK(f["dark_prefixes"].size() == 3);
  CHECK_FALSE(f["freeze"].get<bool>());
}

TEST_CASE("fb2021, the observer breaks: no prefix dark, the backends keep serving",
          "[replay][fb2021-observer]") {
  const nlohmann::json f = Replay("fb2021-observer", "on");
  INFO(f.dump(2));
  CHECK(f["seconds_with_a_prefix_dark"].get<double>() == 0);
  CHECK(f["empty_dns_answers"].get<int>() == 0);
  CHECK(f["freeze"].get<bool>());
  // The edges fail open (panic mode) and no POP leaves: every client request is served.
  CHECK(f["client_success"].get<double>() == 1.0);
}

TEST_CASE("fb2021, the observer breaks, governor off: healthy backends behind a blackhole",
          "[replay][fb2021-observer-off]") {
  const nlohmann::json f = Replay("fb2021-observer", "off");
  INFO(f.dump(2));
  CHECK(f["seconds_with_a_prefix_dark"].get<double>() > 0);
  CHECK(f["client_success"].get<double>() < 1.0);
}

TEST_CASE("wa2014, one POP's router sessions die: it leaves the router and DNS, clients succeed",
          "[replay][wa2014]") {
  const nlohmann::json f = Replay("wa2014", "on");
  INFO(f.dump(2));
  CHECK_FALSE(f["ms_to_withdrawal_at_router"].is_null());
  CHECK_FALSE(f["ms_to_gone_from_dns"].is_null());
  CHECK_FALSE(f["ms_to_plan_not_counting_it"].is_null());
  CHECK(f["seconds_with_a_prefix_dark"].get<double>() == 0);
  CHECK(f["empty_dns_answers"].get<int>() == 0);
  CHECK(f["client_success"].get<double>() == 1.0);
}

TEST_CASE("wa2022, a bad change: only the canary takes it, and it is rolled back",
          "[replay][wa2022]") {
  const nlohmann::json f = Replay("wa2022", "on");
  INFO(f.dump(2));
  CHECK(f["pops_that_took_the_bad_version"] == nlohmann::json::array({"fra"}));
  CHECK_FALSE(f["ms_to_rollback"].is_null());
  CHECK(f.value("rollback_reason", "").find("fra") != std::string::npos);
  CHECK(f["seconds_with_a_prefix_dark"].get<double>() == 0);
  CHECK(f["client_success"].get<double>() == 1.0);
}

}  // namespace
