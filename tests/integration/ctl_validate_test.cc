// holdfastctl validate and describe, run as CI runs them: the real binary, its exit status, and
// what it prints on stdout (findings) and stderr (one summary line) checked apart.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using holdfast::testing::TempDir;

constexpr const char* kHoldfastctl = HF_HOLDFASTCTL;
constexpr const char* kSourceDir = HF_SOURCE_DIR;

using holdfast::testing::RunResult;

// Runs holdfastctl with `args` in `cwd` (see tests/support/subprocess.h).
RunResult RunCtl(const std::vector<std::string>& args, const fs::path& cwd) {
  std::vector<std::string> argv = {kHoldfastctl};
  argv.insert(argv.end(), args.begin(), args.end());
  return holdfast::testing::Run(argv, cwd);
}

// Lines of `text` without their newlines; a final newline ends the last line.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// What a run that exits normally with `code` must have done; every failed check names the run.
void RequireExit(const RunResult& r, int code) {
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.signal == 0);
  REQUIRE(r.exited);
  REQUIRE(r.exit_code == code);
}

// The one line holdfastctl writes to stderr after text and github output.
void RequireSummaryOnly(const RunResult& r, const std::string& start) {
  INFO("stderr:\n" << r.err);
  const std::vector<std::string> lines = Lines(r.err);
  REQUIRE(lines.size() == 1);
  CHECK(StartsWith(lines[0], start));
}

// A config whose only mistake is a misspelt enum value on line 4.
constexpr const char* kBrokenConfig =
    "listeners:\n"
    "  - name: web\n"
    "    port: 8080\n"
    "    protocol: htp\n";

// A config that is valid but for a warning: a cluster nothing uses.
constexpr const char* kWarningConfig =
    "clusters:\n"
    "  - name: spare\n"
    "    endpoints:\n"
    "      - {address: 192.0.2.1, port: 80}\n";

// An https listener whose certificate and key do not exist.
constexpr const char* kMissingCertConfig =
    "listeners:\n"
    "  - name: web\n"
    "    port: 8443\n"
    "    protocol: https\n"
    "    tls:\n"
    "      certificates:\n"
    "        - {sni: [www.example.net], cert: missing.pem, key: missing.key}\n";

// ---- the example config ---------------------------------------------------------------------

TEST_CASE("validates the example config with no findings", "[ctl][validate]") {
  const RunResult r = RunCtl({"validate", "deploy/examples/holdfast.yaml"}, kSourceDir);
  RequireExit(r, 0);
  CHECK(r.out.empty());
  RequireSummaryOnly(r, "holdfastctl: valid: 0 errors, 0 warnings in 3 files");
}

TEST_CASE("validates all example files given explicitly", "[ctl][validate]") {
  // What `holdfastctl validate deploy/examples/*.yaml` passes: every file, in glob order. The
  // included files are named twice and read once.
  std::vector<std::string> args = {"validate"};
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(fs::path(kSourceDir) / "deploy/examples")) {
    if (entry.path().extension() == ".yaml") {
      files.push_back("deploy/examples/" + entry.path().filename().string());
    }
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() == 3);
  args.insert(args.end(), files.begin(), files.end());

  const RunResult r = RunCtl(args, kSourceDir);
  RequireExit(r, 0);
  CHECK(r.out.empty());
  RequireSummaryOnly(r, "holdfastctl: valid: 0 errors, 0 warnings in 3 files");
}

TEST_CASE("describes the example config's POPs, prefixes, names and floors", "[ctl][describe]") {
  const RunResult r = RunCtl({"describe", "deploy/examples/holdfast.yaml"}, kSourceDir);
  RequireExit(r, 0);
  CHECK(r.err.empty());
  INFO(r.out);
  CHECK(StartsWith(r.out, "3 POPs in 2 regions, 4 nodes, 3 prefixes, 2 service names"));
  // POPs by region: each region, then its POPs with their nodes.
  const size_t eu = r.out.find("\n  eu-west\n");
  const size_t us = r.out.find("\n  us-east\n");
  REQUIRE(eu != std::string::npos);
  REQUIRE(us != std::string::npos);
  const size_t ams = r.out.find("    ams ");
  const size_t iad = r.out.find("    iad ");
  CHECK((eu < ams && ams < us));
  CHECK(us < iad);
  CHECK(Contains(r.out, "ams-1 (127.0.1.1), ams-2 (127.0.1.2)"));
  // Prefixes, who announces them, and their floors.
  CHECK(Contains(r.out, "192.0.2.0/24"));
  CHECK(Contains(r.out, "2001:db8:100::/48"));
  CHECK(Contains(r.out, "198.51.100.0/24"));
  CHECK(Contains(r.out, "floor 2 of 3 POPs (min_pops 2, min_fraction 0.5)"));
  CHECK(Contains(r.out, "ams (VIPs 192.0.2.10), fra (VIPs 192.0.2.20), iad (VIPs 192.0.2.30)"));
  // Service names, with the POPs and regions serving them.
  CHECK(Contains(r.out, "www.example.net. -> web-v4 + web-v6"));
  CHECK(Contains(r.out, "api.example.net. -> api-v4"));
  CHECK(Contains(r.out, "served by: ams, iad; regions: eu-west, us-east"));
  CHECK(Contains(r.out, "default floor: min_pops 2, min_fraction 0.5"));
}

// ---- findings as text -----------------------------------------------------------------------

TEST_CASE("reports a mistake as FILE:LINE:COL: error: MESSAGE [CODE]", "[ctl][validate]") {
  TempDir dir;
  dir.Write("broken.yaml", kBrokenConfig);
  const RunResult r = RunCtl({"validate", "broken.yaml"}, dir.path());
  RequireExit(r, 1);
  CHECK(r.out ==
        "broken.yaml:4:15: error: listeners[0].protocol: 'htp' is not one of tcp, tls, http, "
        "https, dns [HF1008]\n");
  RequireSummaryOnly(r, "holdfastctl: invalid: 1 error, 0 warnings in 1 file");
}

TEST_CASE("exits 0 on warnings alone, and 1 with --strict", "[ctl][validate]") {
  TempDir dir;
  dir.Write("warn.yaml", kWarningConfig);
  const std::string line =
      "warn.yaml:2:5: warning: clusters[0]: no route or listener uses cluster 'spare' [HF5003]\n";

  const RunResult lenient = RunCtl({"validate", "warn.yaml"}, dir.path());
  RequireExit(lenient, 0);
  CHECK(lenient.out == line);
  RequireSummaryOnly(lenient, "holdfastctl: valid: 0 errors, 1 warning in 1 file");

  const RunResult strict = RunCtl({"validate", "--strict", "warn.yaml"}, dir.path());
  RequireExit(strict, 1);
  CHECK(strict.out == line);
  RequireSummaryOnly(strict, "holdfastctl: invalid: 0 errors, 1 warning in 1 file");
}

// ---- findings as JSON -----------------------------------------------------------------------

TEST_CASE("validate --format json prints one object with every finding", "[ctl][validate][json]") {
  TempDir dir;
  dir.Write("warn.yaml", kWarningConfig);
  dir.Write("broken.yaml", kBrokenConfig);
  const RunResult r =
      RunCtl({"validate", "--format", "json", "warn.yaml", "broken.yaml"}, dir.path());
  RequireExit(r, 1);
  CHECK(r.err.empty());
  REQUIRE(Lines(r.out).size() == 1);

  const nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(doc.is_discarded());
  INFO(doc.dump(2));
  CHECK(doc.at("valid") == false);
  CHECK(doc.at("errors") == 1);
  CHECK(doc.at("warnings") == 1);
  CHECK(doc.at("files") == nlohmann::json({"warn.yaml", "broken.yaml"}));
  const nlohmann::json& findings = doc.at("findings");
  REQUIRE(findings.is_array());
  REQUIRE(findings.size() == 2);
  for (const nlohmann::json& f : findings) {
    CHECK(f.at("file").is_string());
    CHECK(f.at("line").is_number_integer());
    CHECK(f.at("line").get<int>() >= 1);
    CHECK(f.at("column").is_number_integer());
    CHECK(f.at("column").get<int>() >= 1);
    CHECK(f.at("severity").is_string());
    CHECK(f.at("code").is_string());
    CHECK(f.at("message").is_string());
  }
  // In load order: warn.yaml first.
  CHECK(findings[0] == nlohmann::json({{"file", "warn.yaml"},
                                       {"line", 2},
                                       {"column", 5},
                                       {"severity", "warning"},
                                       {"code", "HF5003"},
                                       {"message",
                                        "clusters[0]: no route or listener uses "
                                        "cluster 'spare'"}}));
  CHECK(findings[1] == nlohmann::json({{"file", "broken.yaml"},
                                       {"line", 4},
                                       {"column", 15},
                                       {"severity", "error"},
                                       {"code", "HF1008"},
                                       {"message",
                                        "listeners[0].protocol: 'htp' is not one of "
                                        "tcp, tls, http, https, dns"}}));
}

TEST_CASE("validate --format json of a valid config says valid", "[ctl][validate][json]") {
  const RunResult r =
      RunCtl({"validate", "--format", "json", "deploy/examples/holdfast.yaml"}, kSourceDir);
  RequireExit(r, 0);
  CHECK(r.err.empty());
  const nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(doc.is_discarded());
  CHECK(doc.at("valid") == true);
  CHECK(doc.at("errors") == 0);
  CHECK(doc.at("warnings") == 0);
  CHECK(doc.at("findings").empty());
  CHECK(doc.at("files").size() == 3);
}

// ---- findings as GitHub annotations ---------------------------------------------------------

TEST_CASE("validate --format github prints workflow annotations", "[ctl][validate][github]") {
  TempDir dir;
  dir.Write("broken.yaml", kBrokenConfig);
  dir.Write("warn.yaml", kWarningConfig);
  const RunResult r =
      RunCtl({"validate", "--format", "github", "broken.yaml", "warn.yaml"}, dir.path());
  RequireExit(r, 1);
  CHECK(r.out ==
        "::error file=broken.yaml,line=4,col=15,title=HF1008::listeners[0].protocol: 'htp' is "
        "not one of tcp, tls, http, https, dns\n"
        "::warning file=warn.yaml,line=2,col=5,title=HF5003::clusters[0]: no route or listener "
        "uses cluster 'spare'\n");
  RequireSummaryOnly(r, "holdfastctl: invalid: 1 error, 1 warning in 2 files");
}

TEST_CASE("validate --format github escapes file names and messages", "[ctl][validate][github]") {
  TempDir dir;
  // The key holds '%' and a newline, and the unknown-key message quotes it.
  dir.Write("a,b:c.yaml", "\"50%\\nx\": 1\n");
  const RunResult r = RunCtl({"validate", "--format", "github", "a,b:c.yaml"}, dir.path());
  RequireExit(r, 1);
  const std::vector<std::string> lines = Lines(r.out);
  INFO(r.out);
  REQUIRE(lines.size() == 1);
  CHECK(StartsWith(
      lines[0], "::error file=a%2Cb%3Ac.yaml,line=1,col=1,title=HF1005::unknown key '50%25%0Ax'"));
  CHECK_FALSE(Contains(lines[0], "\r"));
}

// ---- files that are not configs -------------------------------------------------------------

enum class Kind { kText, kBinary, kDirectory, kMissing };

struct BadFile {
  const char* name;
  Kind kind;
  const char* content;
  const char* code;
};

TEST_CASE("a file that is no config is one finding, without a crash", "[ctl][validate]") {
  const BadFile c = GENERATE(values<BadFile>({
      {"syntax.yaml", Kind::kText, "listeners: [a, b\n", "[HF1002]"},
      {"tabs.yaml", Kind::kText, "pops:\n\t- name: x\n", "[HF1002]"},
      // yaml-cpp 0.7's LoadAll looped on a ',' after a document until memory ran out.
      {"comma.yaml", Kind::kText, "{pops: []},\n", "[HF1002]"},
      {"empty.yaml", Kind::kText, "", "[HF1003]"},
      {"comment.yaml", Kind::kText, "# only a comment\n", "[HF1003]"},
      {"random.bin", Kind::kBinary, nullptr, "[HF1004]"},
      {"dir.yaml", Kind::kDirectory, nullptr, "[HF1001]"},
      {"missing.yaml", Kind::kMissing, nullptr, "[HF1001]"},
  }));
  INFO(c.name);
  TempDir dir;
  switch (c.kind) {
    case Kind::kText:
      dir.Write(c.name, c.content);
      break;
    case Kind::kBinary: {
      std::mt19937 rng(20261124);  // fixed: the same bytes every run
      std::string bytes(512, '\0');
      for (char& b : bytes) b = static_cast<char>(rng() & 0xff);
      bytes[7] = '\0';
      dir.Write(c.name, bytes);
      break;
    }
    case Kind::kDirectory:
      REQUIRE(fs::create_directory(dir.path() / c.name));
      break;
    case Kind::kMissing:
      break;
  }

  const RunResult r = RunCtl({"validate", c.name}, dir.path());
  RequireExit(r, 1);
  const std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() == 1);
  CHECK(StartsWith(lines[0], std::string(c.name) + ":"));
  CHECK(Contains(lines[0], ": error: "));
  CHECK(EndsWith(lines[0], c.code));
  RequireSummaryOnly(r, "holdfastctl: invalid: 1 error, 0 warnings in ");
}

// ---- the command line -----------------------------------------------------------------------

TEST_CASE("a wrong command line exits 2", "[ctl][usage]") {
  using Args = std::vector<std::string>;
  const Args args = GENERATE(values<Args>({
      {},
      {"frobnicate"},
      {"--bogus"},
      {"validate", "--bogus", "x.yaml"},
      {"validate"},
      {"describe"},
      {"validate", "--format", "xml", "x.yaml"},
      {"validate", "--format"},
  }));
  CAPTURE(args);
  TempDir dir;
  const RunResult r = RunCtl(args, dir.path());
  RequireExit(r, 2);
  CHECK(r.out.empty());
  CHECK_FALSE(r.err.empty());
}

TEST_CASE("holdfastctl --help exits 0 and lists the subcommands", "[ctl][usage]") {
  TempDir dir;
  const RunResult r = RunCtl({"--help"}, dir.path());
  RequireExit(r, 0);
  CHECK(Contains(r.out, "validate"));
  CHECK(Contains(r.out, "describe"));
  CHECK(Contains(r.out, "Exit codes"));
}

TEST_CASE("validate --help exits 0 and mentions every flag", "[ctl][usage]") {
  TempDir dir;
  const RunResult r = RunCtl({"validate", "--help"}, dir.path());
  RequireExit(r, 0);
  INFO(r.out);
  for (const char* flag : {"--format", "--no-files", "--strict", "text", "json", "github"}) {
    CAPTURE(flag);
    CHECK(Contains(r.out, flag));
  }
}

TEST_CASE("describe --help exits 0 and mentions --no-files", "[ctl][usage]") {
  TempDir dir;
  const RunResult r = RunCtl({"describe", "--help"}, dir.path());
  RequireExit(r, 0);
  CHECK(Contains(r.out, "--no-files"));
}

// ---- --no-files -----------------------------------------------------------------------------

TEST_CASE("validate --no-files skips the certificate files", "[ctl][validate]") {
  TempDir dir;
  dir.Write("tls.yaml", kMissingCertConfig);

  const RunResult checked = RunCtl({"validate", "tls.yaml"}, dir.path());
  RequireExit(checked, 1);
  const std::vector<std::string> lines = Lines(checked.out);
  REQUIRE(lines.size() == 1);
  CHECK(StartsWith(lines[0], "tls.yaml:7:"));
  CHECK(Contains(lines[0], ": error: listeners[0].tls.certificates[0].cert: "));
  CHECK(EndsWith(lines[0], "[HF3001]"));

  const RunResult skipped = RunCtl({"validate", "--no-files", "tls.yaml"}, dir.path());
  RequireExit(skipped, 0);
  CHECK(skipped.out.empty());
  RequireSummaryOnly(skipped, "holdfastctl: valid: 0 errors, 0 warnings in 1 file");
}

}  // namespace
