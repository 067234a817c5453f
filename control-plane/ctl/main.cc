// holdfastctl: the SRE's and CI's tool. Offline: `validate` checks a config as CI runs it,
// `describe` prints what a valid config sets up, `plan-offline` runs the planner on a health
// scenario. Against a control plane (remote.h): status, plan, apply, rollback, history, show,
// audit, and the operator intents drain, withdraw, ack-freeze, intents, restore.
//
// Exit codes: 0 success (a valid config; warnings allowed unless --strict), 1 the config is
// invalid or the change refused, 2 the command line is wrong, 3 the control plane is
// unreachable, 4 the safety governor refused an intent.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "common/tls/certificate_facts.h"
#include "control-plane/ctl/findings_output.h"
#include "control-plane/ctl/plan_output.h"
#include "control-plane/ctl/remote.h"
#include "google/protobuf/util/json_util.h"
#include "holdfast/v1/scenario.pb.h"
#include "policy/config/loader.h"
#include "policy/describe.h"
#include "policy/finding.h"
#include "policy/plan/scenario.h"
#include "policy/plan/what_if.h"
#include "policy/validate/validator.h"

namespace holdfast::ctl {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 2;

struct CheckFlags {
  std::vector<std::string> files;
  std::string format = "text";
  bool no_files = false;
  bool strict = false;
  bool what_if = false;
};

policy::LoadedConfig Check(const CheckFlags& flags) {
  policy::ValidateOptions options;
  options.now = absl::Now();
  if (!flags.no_files) options.inspect_tls = tls::InspectCertificatePair;
  return policy::LoadAndValidate(flags.files, {}, options);
}

// One line to stderr that sums the run up, after the findings on stdout.
void Summarize(const policy::LoadedConfig& loaded, bool valid) {
  int errors = 0;
  int warnings = 0;
  for (const auto& f : loaded.findings) {
    (f.severity == policy::Severity::kError ? errors : warnings)++;
  }
  std::cerr << "holdfastctl: " << (valid ? "valid" : "invalid") << ": " << errors << " error"
            << (errors == 1 ? "" : "s") << ", " << warnings << " warning"
            << (warnings == 1 ? "" : "s") << " in " << loaded.sources.files().size() << " file"
            << (loaded.sources.files().size() == 1 ? "" : "s") << "\n";
}

int RunValidate(const CheckFlags& flags) {
  policy::LoadedConfig loaded = Check(flags);
  if (flags.what_if && !policy::HasErrors(loaded.findings)) {
    for (auto& f : policy::WhatIf(loaded.config, loaded.sources)) {
      loaded.findings.push_back(std::move(f));
    }
  }
  const bool has_errors = policy::HasErrors(loaded.findings);
  const bool valid = !has_errors && !(flags.strict && !loaded.findings.empty());
  if (flags.format == "json") {
    std::cout << FormatJson(loaded.findings, loaded.sources.files(), valid);
  } else if (flags.format == "github") {
    std::cout << FormatGithub(loaded.findings);
    Summarize(loaded, valid);
  } else {
    std::cout << FormatText(loaded.findings);
    Summarize(loaded, valid);
  }
  return valid ? kExitOk : kExitInvalid;
}

int RunDescribe(const CheckFlags& flags) {
  const policy::LoadedConfig loaded = Check(flags);
  (flags.format == "json" ? std::cerr : std::cout) << FormatText(loaded.findings);
  if (policy::HasErrors(loaded.findings)) {
    Summarize(loaded, false);
    return kExitInvalid;
  }
  if (flags.format == "json") {
    // The whole config with every default filled in, as protobuf's JSON mapping prints it.
    google::protobuf::util::JsonPrintOptions json;
    json.preserve_proto_field_names = true;
    std::string out;
    if (!google::protobuf::util::MessageToJsonString(loaded.config, &out, json).ok()) {
      std::cerr << "holdfastctl: the config could not be printed as JSON\n";
      return kExitInvalid;
    }
    std::cout << out << "\n";
    return kExitOk;
  }
  if (!loaded.findings.empty()) std::cout << "\n";
  std::cout << policy::DescribeConfig(loaded.config);
  return kExitOk;
}

struct PlanFlags {
  std::string config;
  std::string scenario;
  std::string format = "text";
  bool no_files = false;
};

int RunPlanOffline(const PlanFlags& flags) {
  CheckFlags check;
  check.files = {flags.config};
  check.no_files = flags.no_files;
  const policy::LoadedConfig loaded = Check(check);
  std::vector<policy::Finding> findings = loaded.findings;
  v1::HealthScenario scenario;
  if (!policy::HasErrors(findings)) {
    policy::LoadedYaml yaml = policy::LoadYaml({flags.scenario}, scenario);
    findings.insert(findings.end(), yaml.findings.begin(), yaml.findings.end());
    if (!policy::HasErrors(yaml.findings)) {
      for (auto& f : policy::CheckScenario(loaded.config, scenario, yaml.sources)) {
        findings.push_back(std::move(f));
      }
    }
  }
  if (policy::HasErrors(findings)) {
    std::cerr << FormatText(findings);
    return kExitInvalid;
  }
  // A fixed start: the same inputs always print the same plan.
  const std::vector<v1::Plan> plans = policy::RunScenario(
      loaded.config, scenario, absl::FromCivil(absl::CivilSecond(2026, 1, 1), absl::UTCTimeZone()));
  const v1::Plan& plan = plans.back();
  if (flags.format == "json") {
    google::protobuf::util::JsonPrintOptions json;
    json.preserve_proto_field_names = true;
    std::string out;
    if (!google::protobuf::util::MessageToJsonString(plan, &out, json).ok()) {
      std::cerr << "holdfastctl: the plan could not be printed as JSON\n";
      return kExitInvalid;
    }
    std::cout << out << "\n";
  } else {
    std::cout << "plan after " << plans.size() << " step" << (plans.size() == 1 ? "" : "s")
              << " of " << absl::FormatDuration(FromProtoDuration(scenario.interval())) << "\n"
              << FormatPlanText(plan);
  }
  return kExitOk;
}

void AddCheckOptions(CLI::App& cmd, CheckFlags& flags) {
  cmd.add_option("FILE", flags.files,
                 "Config files. Together they form one config: each file's lists are added in "
                 "order, with the files each one includes; a file named twice is read once.")
      ->required();
  cmd.add_flag("--no-files", flags.no_files,
               "Skip the checks that read files the config names (TLS certificates and keys), "
               "for CI machines that do not have them. Validation never uses the network.");
}

int Main(int argc, char** argv) {
  CLI::App app{
      "holdfastctl: validate and operate a holdfast edge routing config.\n"
      "Exit codes: 0 success, 1 invalid config or refused change, 2 usage error, 3 control "
      "plane unreachable, 4 the safety governor refused an intent (drain, withdraw, ack-freeze): "
      "nothing changed.",
      "holdfastctl"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "holdfastctl 0.1.0");

  CheckFlags validate_flags;
  CLI::App* validate = app.add_subcommand(
      "validate",
      "Check a config offline, as CI does: every mistake, each at its file, line and column. "
      "Exits 0 when valid (warnings allowed), 1 when not. Finding codes: docs/findings.md.");
  AddCheckOptions(*validate, validate_flags);
  validate
      ->add_option("--format", validate_flags.format,
                   "Output: text (FILE:LINE:COL: error: MESSAGE [CODE], like a compiler), json "
                   "(one object with every finding), or github (workflow annotations)")
      ->check(CLI::IsMember({"text", "json", "github"}))
      ->capture_default_str();
  validate->add_flag("--strict", validate_flags.strict,
                     "Treat warnings as errors: exit 1 when there is any finding.");
  validate->add_flag(
      "--what-if", validate_flags.what_if,
      "Also run the planner offline under failure scenarios (each POP, region and node down, "
      "every backend failing at once) and report any in which a prefix or service name falls "
      "below its floor (HF6001, an error) or in which one region's loss takes the floor "
      "(HF6002, a warning).");

  CheckFlags describe_flags;
  CLI::App* describe = app.add_subcommand(
      "describe",
      "Validate a config, then print what it sets up: POPs by region, prefixes and who may "
      "announce them, service names, and safety floors.");
  AddCheckOptions(*describe, describe_flags);
  describe
      ->add_option("--format", describe_flags.format,
                   "Output: text (a summary for people) or json (the whole config with every "
                   "default filled in, for scripts); findings go to stderr with json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  PlanFlags plan_flags;
  CLI::App* plan_offline = app.add_subcommand(
      "plan-offline",
      "Compute the announcement plan for a health scenario, offline: what every POP would "
      "announce, what every service name would answer, and why. The scenario (YAML) names POPs "
      "and nodes with their condition (listeners_down, healthy_fraction, stale) and operator "
      "intents; see proto/holdfast/v1/scenario.proto.");
  plan_offline->add_option("CONFIG", plan_flags.config, "The config (and what it includes)")
      ->required();
  plan_offline->add_option("--health", plan_flags.scenario, "The health scenario file")->required();
  plan_offline
      ->add_option("--format", plan_flags.format,
                   "Output: text (for people) or json (the last plan as a protobuf JSON message)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  plan_offline->add_flag("--no-files", plan_flags.no_files,
                         "Skip the checks that read files the config names (TLS certificates)");

  RemoteCommands remote(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, the version, or the error
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (validate->parsed()) return RunValidate(validate_flags);
  if (describe->parsed()) return RunDescribe(describe_flags);
  if (plan_offline->parsed()) return RunPlanOffline(plan_flags);
  if (std::optional<int> code = remote.Run()) return *code;
  return kExitUsage;
}

}  // namespace
}  // namespace holdfast::ctl

int main(int argc, char** argv) {
  try {
    return holdfast::ctl::Main(argc, argv);
  } catch (const std::exception& e) {
    // Only an exhausted machine gets here (std::bad_alloc); the libraries that throw on bad
    // input (CLI11) are caught where they are called.
    std::cerr << "holdfastctl: internal error: " << e.what() << "\n";
    return 1;
  }
}
