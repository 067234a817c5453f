#include "policy/plan/what_if.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "policy/plan/planner.h"
#include "policy/plan/scenario.h"

namespace holdfast::policy {
namespace {

v1::HealthScenario Steps(const v1::Config& config) {
  v1::HealthScenario s;
  // Enough plans for hysteresis to act, and a few more.
  s.set_steps(config.safety().health().withdraw_after() + 3);
  s.mutable_interval()->set_seconds(10);
  return s;
}

}  // namespace

std::vector<FailureScenario> FailureScenarios(const v1::Config& config) {
  std::vector<FailureScenario> out;
  std::set<std::string> regions;
  for (const v1::Pop& pop : config.pops()) {
    regions.insert(pop.region());
    FailureScenario f{absl::StrCat("POP ", pop.name(), " down"), Steps(config), false};
    v1::Condition* c = f.scenario.add_pops();
    c->set_name(pop.name());
    c->set_listeners_down(true);
    out.push_back(std::move(f));
  }
  for (const std::string& region : regions) {
    FailureScenario f{absl::StrCat("region ", region, " down"), Steps(config), true};
    for (const v1::Pop& pop : config.pops()) {
      if (pop.region() != region) continue;
      v1::Condition* c = f.scenario.add_pops();
      c->set_name(pop.name());
      c->set_listeners_down(true);
    }
    out.push_back(std::move(f));
  }
  for (const v1::Pop& pop : config.pops()) {
    for (const v1::Node& node : pop.nodes()) {
      FailureScenario f{absl::StrCat("node ", node.name(), " down"), Steps(config), false};
      v1::Condition* c = f.scenario.add_nodes();
      c->set_name(node.name());
      c->set_listeners_down(true);
      out.push_back(std::move(f));
    }
  }
  // Scenarios report one backend figure per node, so "every cluster failing everywhere" and
  // "all health checks failing" are the same condition: no healthy endpoint at any POP.
  FailureScenario all{"every backend failing at every POP (health checks failing at once)",
                      Steps(config), false};
  for (const v1::Pop& pop : config.pops()) {
    v1::Condition* c = all.scenario.add_pops();
    c->set_name(pop.name());
    c->set_healthy_fraction(0);
  }
  out.push_back(std::move(all));
  return out;
}

std::vector<Finding> WhatIf(const v1::Config& config, const SourceMap& sources) {
  std::vector<Finding> out;
  const absl::Time start = absl::FromCivil(absl::CivilSecond(2026, 1, 1), absl::UTCTimeZone());
  for (const FailureScenario& f : FailureScenarios(config)) {
    const v1::Plan plan = RunScenario(config, f.scenario, start).back();
    const Code code = f.region ? Code::kWhatIfRegion : Code::kWhatIfFloor;
    auto report = [&](const std::string& path, const std::string& message) {
      out.push_back(Finding{sources.Find(path), Info(code).severity, code,
                            absl::StrCat(path, ": in scenario '", f.name, "', ", message), path});
    };
    for (int i = 0; i < plan.prefixes_size(); ++i) {
      const v1::Plan::PrefixPlan& pp = plan.prefixes(i);
      if (pp.announcing() >= pp.floor() && pp.announcing() > 0) continue;
      report(absl::StrCat("prefixes[", i, "]"),
             absl::StrCat("prefix ", pp.prefix(), " has ", pp.announcing(), " of required ",
                          pp.floor(), " POPs announcing"));
    }
    for (int i = 0; i < plan.services_size(); ++i) {
      const v1::Plan::ServicePlan& sp = plan.services(i);
      std::set<std::string> answering;
      for (const auto& a : sp.answers()) {
        if (a.weight() > 0) answering.insert(a.pop());
      }
      if (answering.size() >= sp.floor() && !answering.empty()) continue;
      report(absl::StrCat("dns.services[", i, "]"),
             absl::StrCat("service ", sp.name(), " answers with ", answering.size(),
                          " of required ", sp.floor(), " POPs"));
    }
  }
  return out;
}

}  // namespace holdfast::policy
