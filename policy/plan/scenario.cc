#include "policy/plan/scenario.h"

#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace holdfast::policy {
namespace {

// Resolution of the healthy fraction in a report: endpoints out of this many.
constexpr uint32_t kEndpoints = 1000;

}  // namespace

std::vector<Finding> CheckScenario(const v1::Config& config, const v1::HealthScenario& scenario,
                                   const SourceMap& sources) {
  std::vector<Finding> out;
  auto report = [&](const std::string& path, const std::string& message) {
    out.push_back(Finding{sources.Find(path), Severity::kError, Code::kUnresolvedReference,
                          absl::StrCat(path, ": ", message), path});
  };
  auto has_pop = [&](const std::string& name) {
    for (const auto& pop : config.pops()) {
      if (pop.name() == name) return true;
    }
    return false;
  };
  auto has_node = [&](const std::string& name) {
    for (const auto& pop : config.pops()) {
      for (const auto& node : pop.nodes()) {
        if (node.name() == name) return true;
      }
    }
    return false;
  };
  for (int i = 0; i < scenario.pops_size(); ++i) {
    if (!has_pop(scenario.pops(i).name())) {
      report(absl::StrCat("pops[", i, "].name"),
             absl::StrCat("the config has no POP named '", scenario.pops(i).name(), "'"));
    }
  }
  for (int i = 0; i < scenario.nodes_size(); ++i) {
    if (!has_node(scenario.nodes(i).name())) {
      report(absl::StrCat("nodes[", i, "].name"),
             absl::StrCat("the config has no node named '", scenario.nodes(i).name(), "'"));
    }
  }
  for (int i = 0; i < scenario.intents_size(); ++i) {
    const v1::OperatorIntent& intent = scenario.intents(i);
    if (intent.action() != v1::OperatorIntent::ACTION_ACK_FREEZE && !has_pop(intent.pop())) {
      report(absl::StrCat("intents[", i, "].pop"),
             absl::StrCat("the config has no POP named '", intent.pop(), "'"));
    }
  }
  return out;
}

std::vector<v1::HealthReport> ScenarioReports(const v1::Config& config,
                                              const v1::HealthScenario& scenario, absl::Time now) {
  absl::flat_hash_map<std::string, const v1::Condition*> pops;
  absl::flat_hash_map<std::string, const v1::Condition*> nodes;
  for (const auto& c : scenario.pops()) pops[c.name()] = &c;
  for (const auto& c : scenario.nodes()) nodes[c.name()] = &c;
  const int64_t nanos = absl::ToUnixNanos(now);
  std::vector<v1::HealthReport> out;
  for (const v1::Pop& pop : config.pops()) {
    for (const v1::Node& node : pop.nodes()) {
      const v1::Condition* c = nullptr;
      if (auto it = nodes.find(node.name()); it != nodes.end()) {
        c = it->second;
      } else if (auto jt = pops.find(pop.name()); jt != pops.end()) {
        c = jt->second;
      }
      if (c != nullptr && c->stale()) continue;
      v1::HealthReport& r = out.emplace_back();
      r.set_pop(pop.name());
      r.set_node(node.name());
      r.mutable_at()->set_seconds(nanos / 1'000'000'000);
      r.mutable_at()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
      *r.mutable_received_at() = r.at();
      r.set_listeners_up(c == nullptr || !c->listeners_down());
      v1::ClusterHealth* ch = r.add_clusters();
      ch->set_cluster("*");
      const double fraction = c == nullptr ? 1.0 : std::clamp(c->healthy_fraction(), 0.0, 1.0);
      ch->set_healthy_endpoints(static_cast<uint32_t>(std::lround(fraction * kEndpoints)));
      ch->set_total_endpoints(kEndpoints);
      // One session per router of the POP, established unless the scenario cut them.
      for (const v1::BgpPeer& peer : pop.bgp().peers()) {
        v1::BgpSession* session = r.add_bgp_sessions();
        session->set_peer(peer.address());
        session->set_asn(peer.asn());
        session->set_state(c != nullptr && c->sessions_down() ? "idle" : "established");
      }
    }
  }
  return out;
}

std::vector<v1::Plan> RunScenario(const v1::Config& config, const v1::HealthScenario& scenario,
                                  absl::Time start, const PlannerOptions& options) {
  std::vector<v1::Plan> plans;
  const absl::Duration interval =
      absl::Seconds(scenario.interval().seconds()) + absl::Nanoseconds(scenario.interval().nanos());
  const std::vector<v1::OperatorIntent> intents(scenario.intents().begin(),
                                                scenario.intents().end());
  plans.reserve(scenario.steps());
  for (uint32_t step = 0; step < std::max<uint32_t>(scenario.steps(), 1); ++step) {
    PlanInput in;
    in.config = &config;
    in.now = start + step * interval;
    in.reports = ScenarioReports(config, scenario, in.now);
    in.intents = intents;
    in.previous = plans.empty() ? nullptr : &plans.back();
    v1::Plan next = MakePlan(in, options);
    plans.push_back(std::move(next));
  }
  return plans;
}

}  // namespace holdfast::policy
