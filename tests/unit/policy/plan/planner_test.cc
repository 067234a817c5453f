// The planner and its safety governor, one TEST_CASE per rule (DESIGN.md, "The central
// invariant: no global blackhole"). Each case builds a small fleet as YAML, loads and validates
// it through the same path the daemons use, then feeds MakePlan node reports step by step, each
// plan carrying the governor's memory to the next.
#include "policy/plan/planner.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "policy/config/loader.h"
#include "policy/finding.h"
#include "policy/validate/validator.h"

namespace holdfast::policy {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using State = v1::Plan::State;
using Action = v1::OperatorIntent::Action;

// ---- fleets ---------------------------------------------------------------------------------

struct PopSpec {
  std::string name;
  // Defaults to alternating regions, so no test trips the single-region warning.
  std::string region;
  int nodes = 1;
  uint32_t preference = 100;
  uint32_t capacity = 100;
  // Prefixes this POP announces (each with one VIP); empty means every prefix of the fleet.
  std::vector<std::string> prefixes;
};

struct PrefixSpec {
  std::string name;
  // Extra flow-map entries for the prefix ("floor: {min_pops: 2}").
  std::string extra;
  bool v6 = false;
};

struct ServiceSpec {
  std::string name;  // relative to example.net.
  std::vector<std::string> prefixes;
  std::string extra;
};

// The safety section. The defaults are lenient, so that each case turns on only the rule it is
// about: a floor of one POP, no rate limit to speak of, no correlation freeze (a fraction of 1 is
// never exceeded), no shared-fault exemption, and one plan of hysteresis each way.
struct SafetySpec {
  uint32_t floor_min_pops = 1;
  double floor_min_fraction = 0;
  uint32_t max_withdrawals = 100;
  std::string rate_window = "5m";
  double correlated_fraction = 1.0;
  std::string correlated_window = "2m";
  std::string stale_after = "30s";
  double min_healthy_fraction = 0.5;
  uint32_t withdraw_after = 1;
  uint32_t restore_after = 1;
  double shared_fault_fraction = 1.0;
};

struct FleetSpec {
  std::vector<PopSpec> pops;
  std::vector<PrefixSpec> prefixes = {{"web", "", false}};
  std::vector<ServiceSpec> services = {{"www", {"web"}, ""}};
  SafetySpec safety;
};

// `n` POPs named a, b, c, ... announcing every prefix.
FleetSpec Fleet(int n) {
  FleetSpec f;
  for (int i = 0; i < n; ++i) {
    PopSpec pop;
    pop.name = std::string(1, static_cast<char>('a' + i));
    f.pops.push_back(pop);
  }
  return f;
}

std::string Cidr(const PrefixSpec& p, int index) {
  return p.v6 ? absl::StrCat("2001:db8:", index, "::/48") : absl::StrCat("198.18.", index, ".0/24");
}
// The VIP of POP number `pop` in prefix number `index`.
std::string Vip(const PrefixSpec& p, int index, int pop) {
  return p.v6 ? absl::StrCat("2001:db8:", index, "::", pop + 1)
              : absl::StrCat("198.18.", index, ".", pop + 1);
}

std::string ToYaml(const FleetSpec& f) {
  std::string y =
      "clusters:\n"
      "  - name: app\n"
      "    endpoints: [{address: 10.0.0.1, port: 80}]\n"
      "listeners:\n"
      "  - {name: http, port: 8080, protocol: http}\n"
      "routes:\n"
      "  - {name: app, cluster: app}\n"
      "prefixes:\n";
  for (size_t i = 0; i < f.prefixes.size(); ++i) {
    const PrefixSpec& p = f.prefixes[i];
    absl::StrAppend(&y, "  - {name: ", p.name, ", cidr: ", Cidr(p, static_cast<int>(i)),
                    p.extra.empty() ? "" : ", ", p.extra, "}\n");
  }
  y += "pops:\n";
  for (size_t i = 0; i < f.pops.size(); ++i) {
    const PopSpec& pop = f.pops[i];
    const std::string region = pop.region.empty() ? absl::StrCat("r", i % 2) : pop.region;
    absl::StrAppend(&y, "  - name: ", pop.name, "\n    region: ", region,
                    "\n    preference: ", pop.preference, "\n    capacity_weight: ", pop.capacity,
                    "\n    nodes:\n");
    for (int n = 0; n < pop.nodes; ++n) {
      absl::StrAppend(&y, "      - {name: ", pop.name, "-", n + 1, ", addresses: [10.", i + 1,
                      ".0.", n + 1, "]}\n");
    }
    absl::StrAppend(&y,
                    "    bgp: {local_asn: 65001, peers: [{address: 10.255.0.1, asn: 65000}]}\n"
                    "    announce:\n");
    for (size_t k = 0; k < f.prefixes.size(); ++k) {
      const PrefixSpec& p = f.prefixes[k];
      if (!pop.prefixes.empty() &&
          std::find(pop.prefixes.begin(), pop.prefixes.end(), p.name) == pop.prefixes.end()) {
        continue;
      }
      absl::StrAppend(&y, "      - {prefix: ", p.name, ", vips: [\"",
                      Vip(p, static_cast<int>(k), static_cast<int>(i)), "\"]}\n");
    }
  }
  y += "dns:\n"
       "  zones:\n"
       "    - name: example.net.\n"
       "      soa: {mname: ns1.example.net., rname: hostmaster.example.net.}\n"
       "      ns: [ns1.example.net.]\n"
       "  services:\n";
  for (const ServiceSpec& s : f.services) {
    absl::StrAppend(&y, "    - {name: ", s.name, ".example.net., prefixes: [",
                    absl::StrJoin(s.prefixes, ", "), "]", s.extra.empty() ? "" : ", ", s.extra,
                    "}\n");
  }
  const SafetySpec& s = f.safety;
  absl::StrAppend(
      &y, "safety:\n  default_floor: {min_pops: ", s.floor_min_pops,
      ", min_fraction: ", s.floor_min_fraction, "}\n",
      "  withdrawal_rate: {max_withdrawals: ", s.max_withdrawals, ", window: ", s.rate_window,
      "}\n", "  correlated_failure: {fraction: ", s.correlated_fraction,
      ", window: ", s.correlated_window, "}\n", "  health: {stale_after: ", s.stale_after,
      ", min_healthy_fraction: ", s.min_healthy_fraction, ", withdraw_after: ", s.withdraw_after,
      ", restore_after: ", s.restore_after, ", shared_fault_fraction: ", s.shared_fault_fraction,
      "}\n");
  return y;
}

// Loads and validates `spec` from memory; the config must have no finding at all.
v1::Config Load(const FleetSpec& spec) {
  const std::string yaml = ToYaml(spec);
  LoadOptions load;
  load.read_file = [&yaml](const std::string&) -> absl::StatusOr<std::string> { return yaml; };
  LoadedConfig loaded = LoadAndValidate({"fleet.yaml"}, load, ValidateOptions{});
  std::string findings;
  for (const Finding& f : loaded.findings) {
    absl::StrAppend(&findings, f.where.line, ":", f.where.column, ": ", f.message, "\n");
  }
  INFO(yaml << "\n" << findings);
  REQUIRE(findings.empty());
  return loaded.config;
}

// ---- reports and plans ----------------------------------------------------------------------

// What one node reports at each step.
struct NodeHealth {
  bool listeners_up = true;
  uint32_t healthy = 4;
  uint32_t total = 4;
  // Age of its newest report (since the control plane received it); nullopt sends none at all.
  std::optional<absl::Duration> age = absl::ZeroDuration();
  // How far the node's clock is ahead of the control plane's: moves the report's `at` only.
  absl::Duration skew = absl::ZeroDuration();
  // The node says it drains (its listeners may still be up while it finishes what it has).
  bool draining = false;
  // Its BGP session to the POP's router is established (the router hears it).
  bool heard = true;
  // Its cluster's gate answers `drained` and refuses `refused` requests a second.
  double drained = 100;
  double refused = 0;
};

NodeHealth Healthy() { return {}; }
NodeHealth ListenersDown() { return {false, 4, 4, absl::ZeroDuration()}; }
NodeHealth Backends(uint32_t healthy = 1, uint32_t total = 4) {
  return {true, healthy, total, absl::ZeroDuration()};
}
NodeHealth Aged(absl::Duration age) { return {true, 4, 4, age}; }
NodeHealth Silent() { return {true, 4, 4, std::nullopt}; }
NodeHealth Draining() { return {true, 4, 4, absl::ZeroDuration(), absl::ZeroDuration(), true}; }
// Healthy, at ten times what its backends take: refusing 90% of its requests.
NodeHealth Overloaded() {
  NodeHealth h;
  h.drained = 1000;
  h.refused = 9000;
  return h;
}
// Serving and healthy, but its session to the router is down: the router does not hear it.
NodeHealth Unheard() {
  NodeHealth h;
  h.heard = false;
  return h;
}
// Healthy, with a clock `skew` ahead of the control plane's, its last report received `age` ago.
NodeHealth Skewed(absl::Duration skew, absl::Duration age = absl::ZeroDuration()) {
  return {true, 4, 4, age, skew};
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

v1::OperatorIntent Intent(Action action, const std::string& pop, const std::string& prefix = "",
                          bool break_glass = false) {
  v1::OperatorIntent i;
  i.set_action(action);
  i.set_pop(pop);
  i.set_prefix(prefix);
  i.set_author("sre");
  i.set_reason(break_glass ? "incident 42: fibre cut, traffic must leave" : "maintenance");
  i.set_break_glass(break_glass);
  return i;
}

// Drives MakePlan step by step: each Step() advances the clock, sends every node's report as
// set, and feeds the previous plan back in.
class Fleetwide {
 public:
  explicit Fleetwide(const FleetSpec& spec, PlannerOptions options = {})
      : config_(Load(spec)), options_(options) {
    for (const v1::Pop& pop : config_.pops()) {
      for (const v1::Node& node : pop.nodes()) nodes_[node.name()] = {pop.name(), Healthy()};
    }
  }

  // Sets every node of `pop`.
  Fleetwide& Set(const std::string& pop, const NodeHealth& h) {
    bool found = false;
    for (auto& [name, node] : nodes_) {
      if (node.pop == pop) {
        node.health = h;
        found = true;
      }
    }
    REQUIRE(found);
    return *this;
  }
  Fleetwide& SetNode(const std::string& node, const NodeHealth& h) {
    REQUIRE(nodes_.count(node) == 1);
    nodes_[node].health = h;
    return *this;
  }

  std::vector<v1::HealthReport> Reports() const {
    std::vector<v1::HealthReport> out;
    for (const auto& [name, node] : nodes_) {
      if (!node.health.age.has_value()) continue;
      v1::HealthReport r;
      r.set_pop(node.pop);
      r.set_node(name);
      *r.mutable_received_at() = ToProto(now_ - *node.health.age);
      *r.mutable_at() = ToProto(now_ - *node.health.age + node.health.skew);
      r.set_listeners_up(node.health.listeners_up);
      r.set_draining(node.health.draining);
      v1::ClusterHealth* c = r.add_clusters();
      c->set_cluster("app");
      c->set_healthy_endpoints(node.health.healthy);
      c->set_total_endpoints(node.health.total);
      c->set_drained_per_second(node.health.drained);
      c->set_refused_per_second(node.health.refused);
      c->set_overloaded(node.health.refused > 0);
      v1::BgpSession* session = r.add_bgp_sessions();
      session->set_peer("10.255.0.1");
      session->set_asn(65000);
      session->set_state(node.health.heard ? "established" : "active");
      out.push_back(std::move(r));
    }
    return out;
  }

  const v1::Plan& Step(absl::Duration dt = absl::Seconds(10)) {
    now_ += dt;
    PlanInput in;
    in.config = &config_;
    in.reports = Reports();
    in.intents = intents;
    in.previous = plans_.empty() ? nullptr : &plans_.back();
    in.now = now_;
    in.observing_since = observing_since;
    plans_.push_back(MakePlan(in, options_));
    return plans_.back();
  }
  // `n` steps; returns the last plan.
  const v1::Plan& Steps(int n, absl::Duration dt = absl::Seconds(10)) {
    for (int i = 1; i < n; ++i) Step(dt);
    return Step(dt);
  }

  const v1::Plan& plan() const {
    REQUIRE(!plans_.empty());
    return plans_.back();
  }
  const v1::Config& config() const { return config_; }
  absl::Time now() const { return now_; }

  const v1::Plan::PrefixPlan& Prefix(const std::string& prefix) const {
    for (const auto& p : plan().prefixes()) {
      if (p.prefix() == prefix) return p;
    }
    FAIL("no plan for prefix " << prefix);
    return plan().prefixes(0);
  }
  const v1::Plan::PopDecision& Decision(const std::string& pop,
                                        const std::string& prefix = "web") const {
    for (const auto& d : Prefix(prefix).pops()) {
      if (d.pop() == pop) return d;
    }
    FAIL("no decision for POP " << pop << " on prefix " << prefix);
    return Prefix(prefix).pops(0);
  }
  State StateOf(const std::string& pop, const std::string& prefix = "web") const {
    return Decision(pop, prefix).state();
  }
  // The POPs in `state` for `prefix`, in plan order.
  std::vector<std::string> PopsIn(State state, const std::string& prefix = "web") const {
    std::vector<std::string> out;
    for (const auto& d : Prefix(prefix).pops()) {
      if (d.state() == state) out.push_back(d.pop());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  const v1::Plan::PopMemory& Memory(const std::string& pop) const {
    for (const auto& m : plan().memory()) {
      if (m.pop() == pop) return m;
    }
    FAIL("no memory for POP " << pop);
    return plan().memory(0);
  }
  const v1::Plan::ServicePlan& Service(const std::string& name = "www.example.net.") const {
    for (const auto& s : plan().services()) {
      if (s.name() == name) return s;
    }
    FAIL("no plan for service " << name);
    return plan().services(0);
  }
  bool HasAlarm(const std::string& kind) const {
    for (const auto& a : plan().alarms()) {
      if (a.kind() == kind) return true;
    }
    return false;
  }
  // Everything a failing CHECK needs to see.
  std::string Describe() const {
    if (plans_.empty()) return "(no plan)";
    return absl::StrCat("plan ", plans_.size(), ":\n", plan().DebugString());
  }

  std::vector<v1::OperatorIntent> intents;
  // PlanInput::observing_since of every Step.
  absl::Time observing_since = absl::InfinitePast();

 private:
  struct NodeState {
    std::string pop;
    NodeHealth health;
  };
  v1::Config config_;
  PlannerOptions options_;
  std::map<std::string, NodeState> nodes_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::vector<v1::Plan> plans_;
};

using Pops = std::vector<std::string>;

// ---- health and hysteresis ------------------------------------------------------------------

TEST_CASE("a healthy fleet announces everywhere and answers with every VIP", "[policy][plan]") {
  FleetSpec spec = Fleet(3);
  spec.pops[1].capacity = 250;
  spec.safety.floor_min_pops = 2;
  Fleetwide fleet(spec);
  fleet.Step();
  INFO(fleet.Describe());

  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED) == Pops{"a", "b", "c"});
  CHECK(fleet.Prefix("web").floor() == 2);
  CHECK(fleet.Prefix("web").announcing() == 3);
  for (const auto& d : fleet.Prefix("web").pops()) {
    CHECK_FALSE(d.depreferred());
    CHECK_THAT(d.reason(), Contains("healthy"));
  }
  CHECK(fleet.plan().alarms().empty());
  CHECK_FALSE(fleet.plan().frozen());

  std::map<std::string, std::pair<std::string, uint32_t>> answers;
  for (const auto& a : fleet.Service().answers()) answers[a.pop()] = {a.address(), a.weight()};
  CHECK(answers ==
        std::map<std::string, std::pair<std::string, uint32_t>>{
            {"a", {"198.18.0.1", 100}}, {"b", {"198.18.0.2", 250}}, {"c", {"198.18.0.3", 100}}});
}

TEST_CASE("classifies a POP's health from its nodes' newest fresh reports", "[policy][plan]") {
  // Two nodes, stale_after 30s, min_healthy_fraction 0.5, withdraw_after 1: an unhealthy POP is
  // withdrawn in the first plan, a broken one whatever withdraw_after says.
  struct Row {
    const char* what;
    NodeHealth node1;
    NodeHealth node2;
    bool unhealthy;
  };
  const Row row = GENERATE(values<Row>({
      {"both healthy", Healthy(), Healthy(), false},
      {"one node's listeners down", ListenersDown(), Healthy(), false},
      {"one node silent", Silent(), Healthy(), false},
      {"one node stale", Aged(absl::Seconds(31)), Healthy(), false},
      {"a report exactly stale_after old is fresh", Aged(absl::Seconds(30)), Silent(), false},
      {"every node's listeners down", ListenersDown(), ListenersDown(), true},
      {"one node draining", Draining(), Healthy(), false},
      {"every node draining, listeners still up", Draining(), Draining(), true},
      {"one draining, one down: broken", Draining(), ListenersDown(), true},
      {"one down, one stale: broken", ListenersDown(), Aged(absl::Minutes(5)), true},
      {"both stale", Aged(absl::Seconds(31)), Aged(absl::Seconds(31)), true},
      {"no report at all", Silent(), Silent(), true},
      {"backends summed over nodes: 3/8 < 0.5", Backends(3, 4), Backends(0, 4), true},
      {"backends summed over nodes: 4/8 is enough", Backends(4, 4), Backends(0, 4), false},
      {"a node without listeners does not count its backends",
       Backends(4, 4),
       {false, 0, 40, absl::ZeroDuration()},
       false},
      {"a stale node does not count its backends",
       Backends(4, 4),
       {true, 0, 40, absl::Seconds(31)},
       false},
      {"no endpoints at all counts as healthy", Backends(0, 0), Backends(0, 0), false},
  }));
  INFO(row.what);
  FleetSpec spec = Fleet(4);
  spec.pops[0].nodes = 2;
  Fleetwide fleet(spec);
  fleet.SetNode("a-1", row.node1).SetNode("a-2", row.node2);
  fleet.Step();
  INFO(fleet.Describe());

  CHECK(fleet.StateOf("a") == (row.unhealthy ? v1::Plan::WITHDRAWN : v1::Plan::ANNOUNCED));
  CHECK(fleet.Memory("a").unhealthy_streak() == (row.unhealthy ? 1u : 0u));
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED).size() == (row.unhealthy ? 3u : 4u));
}

TEST_CASE("the newest report of a node counts, and unknown nodes are ignored", "[policy][plan]") {
  Fleetwide fleet(Fleet(3));
  fleet.Set("a", ListenersDown());
  fleet.Step();
  PlanInput in;
  in.config = &fleet.config();
  in.reports = fleet.Reports();
  v1::HealthReport older = in.reports.front();  // a-1, listeners down, now
  REQUIRE(older.node() == "a-1");
  // Received 5 s before the newest, though dated an hour after it: the receipt decides.
  older.set_listeners_up(true);
  older.mutable_received_at()->set_seconds(older.received_at().seconds() - 5);
  older.mutable_at()->set_seconds(older.at().seconds() + 3600);
  in.reports.push_back(older);
  v1::HealthReport stranger = older;
  stranger.set_pop("a");
  stranger.set_node("a-9");
  stranger.set_listeners_up(true);
  stranger.mutable_received_at()->set_seconds(older.received_at().seconds() + 10);
  in.reports.push_back(stranger);
  in.previous = &fleet.plan();
  in.now = fleet.now() + absl::Seconds(10);
  const v1::Plan plan = MakePlan(in);
  INFO(plan.DebugString());
  for (const auto& d : plan.prefixes(0).pops()) {
    if (d.pop() == "a") CHECK(d.state() == v1::Plan::WITHDRAWN);
  }
}

TEST_CASE("a POP whose every node drains leaves at once, and the plan says why", "[policy][plan]") {
  // withdraw_after 3: a draining POP does not wait for it, as a broken one does not.
  FleetSpec spec = Fleet(4);
  spec.pops[0].nodes = 2;
  spec.safety.withdraw_after = 3;
  Fleetwide fleet(spec);
  fleet.Step();
  REQUIRE(fleet.StateOf("a") == v1::Plan::ANNOUNCED);
  fleet.SetNode("a-1", Draining()).SetNode("a-2", Draining());
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.StateOf("a") == v1::Plan::WITHDRAWN);
  CHECK_THAT(fleet.Decision("a").reason(), Contains("every node is draining"));
}

TEST_CASE("an overloaded POP that serves what it can keeps its routes, and the plan says why",
          "[policy][plan]") {
  // withdraw_after 1: any unhealthy POP would go at the first plan.
  FleetSpec spec = Fleet(3);
  spec.safety.withdraw_after = 1;
  Fleetwide fleet(spec);
  fleet.Set("a", Overloaded()).Set("b", Overloaded()).Set("c", Overloaded());
  fleet.Steps(3);
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED) == Pops{"a", "b", "c"});
  CHECK_FALSE(fleet.plan().frozen());
  CHECK_THAT(fleet.Decision("a").reason(), Contains("healthy; overloaded (app on a-1 refusing 90% "
                                                    "of 10000 requests/s)"));
  CHECK_THAT(fleet.Decision("a").reason(), Contains("load is never a reason to withdraw"));
  CHECK(fleet.Memory("a").unhealthy_streak() == 0);
  // Load gone, the reason says healthy alone.
  fleet.Set("a", Healthy());
  fleet.Step();
  CHECK(fleet.Decision("a").reason() == "healthy");
}

TEST_CASE("unknown is not unhealthy: a control plane that just started waits for reports",
          "[policy][plan]") {
  // stale_after 30 s, the default correlated-failure fraction (0.3), plans every 10 s.
  FleetSpec spec = Fleet(3);
  spec.safety.correlated_fraction = 0.3;
  Fleetwide fleet(spec);
  fleet.Set("a", Silent()).Set("b", Silent()).Set("c", Silent());
  fleet.observing_since = fleet.now();
  fleet.Steps(2);  // 20 s of observing: nothing reported yet
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED).size() == 3);
  CHECK_FALSE(fleet.plan().frozen());
  CHECK_THAT(fleet.Decision("a").reason(), Contains("unknown (no report yet"));
  CHECK(fleet.Memory("a").unhealthy_streak() == 0);
  CHECK(fleet.Memory("a").healthy_streak() == 0);  // no evidence of health either

  SECTION("the nodes report in time: healthy, nothing frozen") {
    fleet.Set("a", Healthy()).Set("b", Healthy()).Set("c", Healthy());
    fleet.Step();
    CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED).size() == 3);
    CHECK_FALSE(fleet.plan().frozen());
    CHECK(fleet.Decision("a").reason() == "healthy");
  }
  SECTION("still nothing after stale_after of observing: stale, and that many is correlated") {
    fleet.Steps(2);
    INFO(fleet.Describe());
    CHECK(fleet.plan().frozen());
    CHECK_THAT(fleet.Decision("a").reason(), Contains("no report for more than 30s"));
  }
}

TEST_CASE("one broken POP of three is withdrawn; a correlated failure needs more than one",
          "[policy][plan]") {
  // The default fraction, 0.3: one POP of three is 33%, over it, but one POP is its own fault.
  FleetSpec spec = Fleet(3);
  spec.safety.correlated_fraction = 0.3;
  spec.safety.max_withdrawals = 1;
  Fleetwide fleet(spec);
  fleet.Step();
  fleet.Set("a", Backends(0, 4));
  fleet.Step();
  INFO(fleet.Describe());
  CHECK_FALSE(fleet.plan().frozen());
  CHECK(fleet.StateOf("a") == v1::Plan::WITHDRAWN);

  fleet.Set("b", Backends(0, 4));
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.plan().frozen());
  CHECK_THAT(fleet.plan().freeze_evidence(),
             Contains("2 of 3 POPs unhealthy within 2m") && Contains("and more than one"));
  CHECK(fleet.StateOf("b") == v1::Plan::ANNOUNCED);
}

TEST_CASE("freshness is judged by when a report was received, never by the node's clock",
          "[policy][plan]") {
  // stale_after is 30 s.
  Fleetwide fleet(Fleet(3));
  fleet.Step();
  SECTION("a node dated an hour ahead that fell silent goes stale") {
    fleet.Set("a", Skewed(absl::Hours(1), absl::Seconds(31)));
    fleet.Step();
    CHECK(fleet.StateOf("a") == v1::Plan::WITHDRAWN);
    CHECK_THAT(fleet.Decision("a").reason(), Contains("no report for more than 30s"));
  }
  SECTION("a node dated an hour behind that keeps reporting is fresh") {
    fleet.Set("a", Skewed(-absl::Hours(1)));
    fleet.Steps(3);
    CHECK(fleet.StateOf("a") == v1::Plan::ANNOUNCED);
  }
  SECTION("a report received exactly stale_after ago is fresh, whatever its date") {
    fleet.Set("a", Skewed(-absl::Hours(1), absl::Seconds(30)));
    fleet.Step();
    CHECK(fleet.StateOf("a") == v1::Plan::ANNOUNCED);
  }
}

TEST_CASE("a report with no receipt time counts as never received", "[policy][plan]") {
  Fleetwide fleet(Fleet(3));
  fleet.Step();
  PlanInput in;
  in.config = &fleet.config();
  in.reports = fleet.Reports();
  for (v1::HealthReport& r : in.reports) {
    if (r.pop() == "a") r.clear_received_at();  // dated now, but never stamped on receipt
  }
  in.previous = &fleet.plan();
  in.now = fleet.now() + absl::Seconds(10);
  const v1::Plan plan = MakePlan(in);
  INFO(plan.DebugString());
  for (const auto& d : plan.prefixes(0).pops()) {
    CHECK(d.state() == (d.pop() == "a" ? v1::Plan::WITHDRAWN : v1::Plan::ANNOUNCED));
    if (d.pop() == "a") CHECK_THAT(d.reason(), Contains("no report for more than"));
  }
}

TEST_CASE("withdraws only after withdraw_after unhealthy reports", "[policy][plan]") {
  const uint32_t withdraw_after = GENERATE(1u, 2u, 3u, 5u);
  const NodeHealth bad = GENERATE(Backends(), Aged(absl::Minutes(2)), Silent());
  FleetSpec spec = Fleet(4);
  spec.safety.withdraw_after = withdraw_after;
  Fleetwide fleet(spec);
  fleet.Step();
  fleet.Set("c", bad);
  for (uint32_t i = 1; i < withdraw_after; ++i) {
    fleet.Step();
    INFO("unhealthy plan " << i << "\n" << fleet.Describe());
    CHECK(fleet.StateOf("c") == v1::Plan::ANNOUNCED);
    CHECK(fleet.Memory("c").unhealthy_streak() == i);
    CHECK_FALSE(fleet.Memory("c").health_withdrawn());
  }
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.StateOf("c") == v1::Plan::WITHDRAWN);
  CHECK_THAT(fleet.Decision("c").reason(), Contains("withdrawn"));
  CHECK(fleet.Memory("c").health_withdrawn());
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED) == Pops{"a", "b", "d"});
  CHECK(fleet.plan().withdrawals_size() == 1);
}

TEST_CASE("a POP whose listeners are down is withdrawn at once", "[policy][plan]") {
  // Not held by hysteresis nor by the rate limit, and not counted against it.
  FleetSpec spec = Fleet(5);
  spec.safety.withdraw_after = 3;
  spec.safety.max_withdrawals = 1;
  Fleetwide fleet(spec);
  fleet.Step();
  fleet.Set("b", ListenersDown()).Set("d", ListenersDown());
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::WITHDRAWN) == Pops{"b", "d"});
  CHECK(fleet.Prefix("web").announcing() == 3);
  CHECK(fleet.plan().withdrawals().empty());

  // A POP with backends failing still goes after withdraw_after: the budget is untouched.
  fleet.Set("e", Backends());
  fleet.Steps(3);
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::WITHDRAWN) == Pops{"b", "d", "e"});
}

TEST_CASE("a flapping POP does not flap its routes", "[policy][plan]") {
  FleetSpec spec = Fleet(4);
  spec.safety.withdraw_after = 2;
  spec.safety.restore_after = 2;
  Fleetwide fleet(spec);
  for (int i = 0; i < 12; ++i) {
    fleet.Set("b", i % 2 == 0 ? Backends() : Healthy());
    fleet.Step();
    INFO("plan " << i << "\n" << fleet.Describe());
    CHECK(fleet.StateOf("b") == v1::Plan::ANNOUNCED);
    CHECK(fleet.Memory("b").unhealthy_streak() == (i % 2 == 0 ? 1u : 0u));
  }
  CHECK(fleet.plan().withdrawals().empty());
}

TEST_CASE("restores a POP after restore_after healthy plans", "[policy][plan]") {
  const uint32_t restore_after = GENERATE(1u, 2u, 4u);
  FleetSpec spec = Fleet(4);
  spec.safety.restore_after = restore_after;
  Fleetwide fleet(spec);
  fleet.Set("a", Backends());
  fleet.Step();
  REQUIRE(fleet.StateOf("a") == v1::Plan::WITHDRAWN);

  fleet.Set("a", Healthy());
  for (uint32_t i = 1; i < restore_after; ++i) {
    fleet.Step();
    INFO("healthy plan " << i << "\n" << fleet.Describe());
    CHECK(fleet.StateOf("a") == v1::Plan::WITHDRAWN);
    CHECK(fleet.Memory("a").healthy_streak() == i);
  }
  // One unhealthy plan in between starts the count again.
  if (restore_after > 1) {
    fleet.Set("a", Backends()).Step();
    fleet.Set("a", Healthy());
    fleet.Steps(static_cast<int>(restore_after) - 1);
    INFO(fleet.Describe());
    CHECK(fleet.StateOf("a") == v1::Plan::WITHDRAWN);
  }
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.StateOf("a") == v1::Plan::ANNOUNCED);
  CHECK_FALSE(fleet.Memory("a").health_withdrawn());
  CHECK(fleet.Prefix("web").announcing() == 4);
}

// ---- the floor --------------------------------------------------------------------------------

TEST_CASE("keeps the floor when every POP reports unhealthy", "[policy][plan]") {
  // Every POP's backends fail, each to a different degree; the shared-fault exemption and the
  // freeze are off, so health wants them all gone. The floor keeps the best-ranked two: able,
  // then the higher healthy fraction, then the lower preference, then the name.
  struct Row {
    const char* what;
    std::vector<uint32_t> healthy_of_10;  // per POP a..d
    std::vector<uint32_t> preference;
    Pops kept;
  };
  const Row row = GENERATE(values<Row>({
      {"healthier capacity first", {1, 4, 2, 3}, {100, 100, 100, 100}, {"b", "d"}},
      {"then preference", {2, 2, 2, 2}, {50, 100, 10, 100}, {"a", "c"}},
      {"capacity before preference", {4, 1, 1, 3}, {100, 1, 1, 100}, {"a", "d"}},
      {"then name", {2, 2, 2, 2}, {100, 100, 100, 100}, {"a", "b"}},
  }));
  INFO(row.what);
  FleetSpec spec = Fleet(4);
  spec.safety.floor_min_pops = 2;
  for (size_t i = 0; i < 4; ++i) spec.pops[i].preference = row.preference[i];
  Fleetwide fleet(spec);
  fleet.Step();
  for (size_t i = 0; i < 4; ++i) {
    fleet.Set(spec.pops[i].name, Backends(row.healthy_of_10[i], 10));
  }
  fleet.Steps(3);
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED) == row.kept);
  CHECK(fleet.Prefix("web").announcing() == 2);
  CHECK(fleet.Prefix("web").floor() == 2);
  for (const std::string& pop : row.kept) {
    CHECK_THAT(fleet.Decision(pop).reason(), Contains("kept by floor"));
  }
  CHECK_FALSE(fleet.HasAlarm("floor_unmet"));
}

TEST_CASE("keeps the floor by min_fraction of the eligible POPs", "[policy][plan]") {
  // Six POPs, five with failing backends; floor max(1, ceil(0.5 * 6)) = 3.
  FleetSpec spec = Fleet(6);
  spec.safety.floor_min_fraction = 0.5;
  Fleetwide fleet(spec);
  for (const char* pop : {"a", "b", "c", "d", "e"}) fleet.Set(pop, Backends());
  fleet.Steps(2);
  INFO(fleet.Describe());
  CHECK(fleet.Prefix("web").floor() == 3);
  CHECK(fleet.Prefix("web").announcing() == 3);
  CHECK(fleet.StateOf("f") == v1::Plan::ANNOUNCED);
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED) == Pops{"a", "b", "f"});
}

TEST_CASE("a stale POP is not counted as announcing", "[policy][plan]") {
  FleetSpec spec = Fleet(3);
  spec.safety.floor_min_pops = 2;
  spec.safety.withdraw_after = 3;
  Fleetwide fleet(spec);
  fleet.Step();
  fleet.Set("c", Aged(absl::Seconds(45)));
  fleet.Step();
  INFO(fleet.Describe());
  // Still ANNOUNCED (hysteresis), but it cannot be known to serve.
  CHECK(fleet.StateOf("c") == v1::Plan::ANNOUNCED);
  CHECK(fleet.Prefix("web").announcing() == 2);

  // With a second POP gone silent, only one announces: the floor cannot be met by decisions.
  fleet.Set("b", Silent());
  fleet.Steps(3);
  INFO(fleet.Describe());
  CHECK(fleet.Prefix("web").announcing() == 1);
  CHECK(fleet.HasAlarm("floor_unmet"));
  CHECK(fleet.StateOf("a") == v1::Plan::ANNOUNCED);
}

TEST_CASE("a floor that gone POPs leave short raises floor_unmet", "[policy][plan]") {
  FleetSpec spec = Fleet(3);
  spec.safety.floor_min_pops = 2;
  Fleetwide fleet(spec);
  fleet.Set("a", ListenersDown()).Set("b", ListenersDown());
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED) == Pops{"c"});
  CHECK(fleet.Prefix("web").announcing() == 1);
  CHECK(fleet.HasAlarm("floor_unmet"));
}

// ---- attribution ------------------------------------------------------------------------------

TEST_CASE("a shared backend fault keeps POPs announcing", "[policy][plan]") {
  // shared_fault_fraction 0.5 of the POPs with fresh reports: 3 of 4 is a shared fault, 2 of 4
  // is not. A stale POP is not among those with fresh reports.
  struct Row {
    const char* what;
    Pops failing;
    Pops silent;
    bool shared;
  };
  const Row row = GENERATE(values<Row>({
      {"3 of 4", {"a", "b", "c"}, {}, true},
      {"4 of 4", {"a", "b", "c", "d"}, {}, true},
      {"2 of 4", {"a", "b"}, {}, false},
      {"2 of the 3 that report", {"a", "b"}, {"d"}, true},
  }));
  INFO(row.what);
  FleetSpec spec = Fleet(4);
  spec.safety.shared_fault_fraction = 0.5;
  spec.safety.withdraw_after = 2;
  Fleetwide fleet(spec);
  fleet.Step();
  for (const std::string& pop : row.failing) fleet.Set(pop, Backends(0, 4));
  for (const std::string& pop : row.silent) fleet.Set(pop, Silent());
  fleet.Steps(6);
  INFO(fleet.Describe());
  for (const std::string& pop : row.failing) {
    if (row.shared) {
      CHECK(fleet.StateOf(pop) == v1::Plan::ANNOUNCED);
      CHECK_THAT(fleet.Decision(pop).reason(), Contains("shared fault"));
    } else {
      CHECK(fleet.StateOf(pop) == v1::Plan::WITHDRAWN);
    }
  }
  CHECK_FALSE(fleet.plan().frozen());
}

TEST_CASE("a shared backend fault does not shield a POP whose listeners are down",
          "[policy][plan]") {
  FleetSpec spec = Fleet(4);
  spec.safety.shared_fault_fraction = 0.5;
  spec.safety.withdraw_after = 2;
  Fleetwide fleet(spec);
  for (const char* pop : {"a", "b", "c"}) fleet.Set(pop, Backends(0, 4));
  fleet.Set("d", ListenersDown());
  fleet.Steps(4);
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED) == Pops{"a", "b", "c"});
  CHECK(fleet.StateOf("d") == v1::Plan::WITHDRAWN);
}

// ---- per-prefix action --------------------------------------------------------------------------

TEST_CASE("deprefers instead of withdrawing when the prefix says so", "[policy][plan]") {
  FleetSpec spec = Fleet(3);
  spec.prefixes = {{"web", "", false},
                   {"api", "on_unhealthy: {kind: deprefer, as_path_prepend: 5}", false}};
  spec.services = {{"www", {"web"}, ""}, {"api", {"api"}, ""}};
  spec.safety.withdraw_after = 2;
  Fleetwide fleet(spec);
  fleet.Set("b", Backends());
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.StateOf("b", "api") == v1::Plan::ANNOUNCED);
  CHECK_FALSE(fleet.Decision("b", "api").depreferred());

  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.StateOf("b", "web") == v1::Plan::WITHDRAWN);
  const auto& d = fleet.Decision("b", "api");
  CHECK(d.state() == v1::Plan::ANNOUNCED);
  CHECK(d.depreferred());
  CHECK(d.as_path_prepend() == 5);
  for (const char* pop : {"a", "c"}) CHECK_FALSE(fleet.Decision(pop, "api").depreferred());
  CHECK(fleet.Prefix("api").announcing() == 3);

  // It stops being depreferred when it is restored.
  fleet.Set("b", Healthy()).Step();
  INFO(fleet.Describe());
  CHECK_FALSE(fleet.Decision("b", "api").depreferred());
  CHECK(fleet.StateOf("b", "web") == v1::Plan::ANNOUNCED);
}

TEST_CASE("DNS gives a de-preferred POP the configured share of its weight", "[policy][plan]") {
  FleetSpec spec = Fleet(3);
  spec.prefixes = {{"web", "on_unhealthy: {kind: deprefer, dns_weight_fraction: 0.25}", false}};
  Fleetwide fleet(spec);
  fleet.Set("b", Backends()).Step();
  INFO(fleet.Describe());
  REQUIRE(fleet.Decision("b").depreferred());
  std::map<std::string, uint32_t> weight;
  for (const auto& a : fleet.Service().answers()) weight[a.pop()] = a.weight();
  CHECK(weight == std::map<std::string, uint32_t>{{"a", 100}, {"b", 25}, {"c", 100}});
}

// ---- what the routers hear ----------------------------------------------------------------------

TEST_CASE("a POP no router hears counts for no floor, and DNS stops handing it out",
          "[policy][plan]") {
  // The WhatsApp 2014 case: a's sessions die at its router while a still serves and reports
  // healthy. Before, the plan counted a as announcing, so b was withdrawn on top of it and the
  // floor of two stood on paper only.
  FleetSpec spec = Fleet(3);
  spec.safety.floor_min_pops = 2;
  Fleetwide fleet(spec);
  fleet.Set("a", Unheard()).Set("b", Backends()).Step();
  INFO(fleet.Describe());
  const auto& a = fleet.Decision("a");
  CHECK(a.state() == v1::Plan::ANNOUNCED);  // it announces again as soon as a session is up
  CHECK_THAT(a.reason(), Contains("not heard by its routers"));
  CHECK(fleet.StateOf("b") == v1::Plan::ANNOUNCED);
  CHECK_THAT(fleet.Decision("b").reason(), StartsWith("kept by floor (2 required)"));
  CHECK(fleet.Prefix("web").announcing() == 2);
  Pops answered;
  for (const auto& ans : fleet.Service().answers()) answered.push_back(ans.pop());
  std::sort(answered.begin(), answered.end());
  CHECK(answered == Pops{"b", "c"});

  // Its session comes back: it counts, b may go, and DNS hands a out again.
  fleet.Set("a", Healthy()).Step();
  INFO(fleet.Describe());
  CHECK(fleet.StateOf("b") == v1::Plan::WITHDRAWN);
  CHECK(fleet.Prefix("web").announcing() == 2);
  answered.clear();
  for (const auto& ans : fleet.Service().answers()) answered.push_back(ans.pop());
  std::sort(answered.begin(), answered.end());
  CHECK(answered == Pops{"a", "c"});
}

TEST_CASE("with no POP heard at all, DNS still hands one out", "[policy][plan]") {
  // Every session down everywhere at once says more about the reports than about the fleet:
  // an empty answer would be a blackhole of our own making.
  Fleetwide fleet(Fleet(3));
  fleet.Set("a", Unheard()).Set("b", Unheard()).Set("c", Unheard()).Step();
  INFO(fleet.Describe());
  CHECK(fleet.Prefix("web").announcing() == 0);
  CHECK(fleet.HasAlarm("floor_unmet"));
  CHECK(fleet.Service().answers_size() >= 1);
}

TEST_CASE("one node a router hears is enough for its POP", "[policy][plan]") {
  FleetSpec spec = Fleet(3);
  spec.pops[0].nodes = 2;
  Fleetwide fleet(spec);
  fleet.SetNode("a-1", Unheard()).Step();
  INFO(fleet.Describe());
  CHECK(fleet.Prefix("web").announcing() == 3);
  for (const char* pop : {"a", "b", "c"}) CHECK(fleet.Decision(pop).reason() == "healthy");
  // Every node of a unheard: it no longer counts.
  fleet.SetNode("a-2", Unheard()).Step();
  CHECK(fleet.Prefix("web").announcing() == 2);
  CHECK_THAT(fleet.Decision("a").reason(), Contains("2 serving nodes"));
}

TEST_CASE("an operator cannot drain below the floor by counting a POP no router hears",
          "[policy][plan]") {
  FleetSpec spec = Fleet(3);
  spec.safety.floor_min_pops = 2;
  Fleetwide fleet(spec);
  fleet.Set("c", Unheard());
  fleet.intents.push_back(Intent(v1::OperatorIntent::ACTION_DRAIN, "a"));
  fleet.Step();
  INFO(fleet.Describe());
  REQUIRE(fleet.plan().intents_size() == 1);
  CHECK_FALSE(fleet.plan().intents(0).applied());
  CHECK_THAT(fleet.plan().intents(0).explanation(), Contains("would leave 1 of required 2"));
}

// ---- rate limit ---------------------------------------------------------------------------------

TEST_CASE("rate-limits health withdrawals", "[policy][plan]") {
  const uint32_t max_withdrawals = GENERATE(1u, 2u);
  FleetSpec spec = Fleet(6);
  spec.safety.max_withdrawals = max_withdrawals;
  spec.safety.rate_window = "1m";
  Fleetwide fleet(spec);
  fleet.Step();
  for (const char* pop : {"a", "b", "c"}) fleet.Set(pop, Backends());
  fleet.Step();
  const absl::Time first = fleet.now();
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::WITHDRAWN).size() == max_withdrawals);
  CHECK(static_cast<uint32_t>(fleet.plan().withdrawals_size()) == max_withdrawals);
  int held = 0;
  for (const char* pop : {"a", "b", "c"}) {
    if (fleet.StateOf(pop) == v1::Plan::ANNOUNCED) {
      ++held;
      CHECK_THAT(fleet.Decision(pop).reason(), Contains("rate limit"));
    }
  }
  CHECK(held == static_cast<int>(3 - max_withdrawals));

  // Still within the window: nothing more goes.
  fleet.Step(absl::Seconds(20));
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::WITHDRAWN).size() == max_withdrawals);

  // As earlier withdrawals leave the window, the next ones go: never more than the limit
  // within one minute.
  std::vector<absl::Time> seen(max_withdrawals, first);  // when each withdrawal showed
  size_t withdrawn = max_withdrawals;
  for (int i = 0; i < 10; ++i) {
    fleet.Step(absl::Seconds(25));
    const size_t now_withdrawn = fleet.PopsIn(v1::Plan::WITHDRAWN).size();
    for (size_t k = withdrawn; k < now_withdrawn; ++k) seen.push_back(fleet.now());
    withdrawn = now_withdrawn;
  }
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::WITHDRAWN) == Pops{"a", "b", "c"});
  for (size_t k = 0; k < seen.size(); ++k) {
    uint32_t in_window = 0;
    for (size_t j = 0; j <= k; ++j) in_window += seen[k] - seen[j] < absl::Minutes(1) ? 1 : 0;
    CHECK(in_window <= max_withdrawals);
  }
}

// ---- correlated failure -------------------------------------------------------------------------

TEST_CASE("flapping listeners do not flap routes: a broken POP waits restore_after",
          "[policy][plan]") {
  FleetSpec spec = Fleet(4);
  spec.safety.restore_after = 3;
  Fleetwide fleet(spec);
  fleet.Step();
  for (int i = 0; i < 8; ++i) {
    fleet.Set("b", i % 2 == 0 ? ListenersDown() : Healthy());
    fleet.Step();
    INFO("plan " << i << "\n" << fleet.Describe());
    // Down at once, then never back within two healthy plans of a flap.
    CHECK(fleet.StateOf("b") == v1::Plan::WITHDRAWN);
  }
  fleet.Set("b", Healthy());
  fleet.Steps(3);
  INFO(fleet.Describe());
  CHECK(fleet.StateOf("b") == v1::Plan::ANNOUNCED);
}

TEST_CASE("an acknowledgement covers the freeze it was given for, not a later one",
          "[policy][plan]") {
  FleetSpec spec = Fleet(5);
  spec.safety.correlated_fraction = 0.3;
  spec.safety.correlated_window = "2m";
  spec.safety.withdraw_after = 2;
  Fleetwide fleet(spec);
  fleet.Step();
  for (const char* pop : {"a", "b", "c"}) fleet.Set(pop, Silent());
  fleet.Steps(3);
  REQUIRE(fleet.plan().frozen());
  v1::OperatorIntent ack = Intent(v1::OperatorIntent::ACTION_ACK_FREEZE, "");
  *ack.mutable_at() = ToProto(fleet.now());
  fleet.intents.push_back(ack);
  fleet.Step();
  INFO(fleet.Describe());
  CHECK_FALSE(fleet.plan().frozen());
  CHECK(fleet.plan().freeze_acknowledged());
  // Health recovers, ending the spell; ten minutes later most POPs fail again. The standing
  // acknowledgement is older than the new freeze, so it does not lift it.
  for (const char* pop : {"a", "b", "c"}) fleet.Set(pop, Healthy());
  fleet.Steps(4);
  CHECK_FALSE(fleet.plan().freeze_acknowledged());
  fleet.Step(absl::Minutes(10));
  for (const char* pop : {"c", "d", "e"}) fleet.Set(pop, Silent());
  fleet.Steps(4);
  INFO(fleet.Describe());
  CHECK(fleet.plan().frozen());
  CHECK(fleet.PopsIn(v1::Plan::WITHDRAWN).empty());
  REQUIRE(fleet.plan().intents_size() == 1);
  CHECK_FALSE(fleet.plan().intents(0).applied());
}

TEST_CASE("freezes withdrawals when most POPs fail within the window", "[policy][plan]") {
  // Five POPs, correlated_failure {fraction 0.3, window 2m}: three of them stop reporting at
  // once, which says more about the observer than about the POPs.
  FleetSpec spec = Fleet(5);
  spec.safety.correlated_fraction = 0.3;
  spec.safety.correlated_window = "2m";
  spec.safety.withdraw_after = 2;
  Fleetwide fleet(spec);
  fleet.Step();
  for (const char* pop : {"a", "b", "c"}) fleet.Set(pop, Silent());
  fleet.Steps(4);
  INFO(fleet.Describe());
  CHECK(fleet.plan().frozen());
  CHECK(fleet.HasAlarm("correlated_failure"));
  CHECK_FALSE(fleet.plan().freeze_evidence().empty());
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED) == Pops{"a", "b", "c", "d", "e"});
  CHECK(fleet.plan().withdrawals().empty());
  for (const char* pop : {"a", "b", "c"}) {
    CHECK_THAT(fleet.Decision(pop).reason(), Contains("frozen"));
  }

  SECTION("an operator's acknowledgement lifts the freeze") {
    fleet.intents.push_back(Intent(v1::OperatorIntent::ACTION_ACK_FREEZE, ""));
    fleet.Step();
    INFO(fleet.Describe());
    CHECK_FALSE(fleet.plan().frozen());
    REQUIRE(fleet.plan().intents_size() == 1);
    CHECK(fleet.plan().intents(0).applied());
    // Health-driven withdrawals resume (the rate limit of this fleet is 100 per window).
    CHECK(fleet.PopsIn(v1::Plan::WITHDRAWN) == Pops{"a", "b", "c"});
  }
  SECTION("recovery to at most the fraction lifts the freeze") {
    // 2 of 5 unhealthy is still above 0.3 * 5 = 1.5; 1 of 5 is not.
    fleet.Set("a", Healthy()).Step();
    INFO(fleet.Describe());
    CHECK(fleet.plan().frozen());
    fleet.Set("b", Healthy()).Step();
    INFO(fleet.Describe());
    CHECK_FALSE(fleet.plan().frozen());
  }
}

TEST_CASE("failures spread wider than the window do not freeze", "[policy][plan]") {
  FleetSpec spec = Fleet(5);
  spec.safety.correlated_fraction = 0.3;
  spec.safety.correlated_window = "2m";
  spec.safety.withdraw_after = 1;
  spec.safety.stale_after = "5m";
  Fleetwide fleet(spec);
  fleet.Step();
  for (const char* pop : {"a", "b", "c"}) {
    fleet.Set(pop, Backends());
    fleet.Step(absl::Minutes(3));
    INFO(fleet.Describe());
    CHECK_FALSE(fleet.plan().frozen());
    CHECK(fleet.StateOf(pop) == v1::Plan::WITHDRAWN);
  }
  CHECK(fleet.PopsIn(v1::Plan::WITHDRAWN) == Pops{"a", "b", "c"});
  CHECK_FALSE(fleet.HasAlarm("correlated_failure"));
}

TEST_CASE("a freeze does not hold back a POP already withdrawn", "[policy][plan]") {
  // A POP withdrawn before the freeze stays withdrawn; one that recovers during it returns.
  FleetSpec spec = Fleet(5);
  spec.safety.correlated_fraction = 0.3;
  Fleetwide fleet(spec);
  fleet.Set("e", Backends()).Step();
  REQUIRE(fleet.StateOf("e") == v1::Plan::WITHDRAWN);
  fleet.Step(absl::Minutes(3));  // e's unhealthy_since leaves the window
  for (const char* pop : {"a", "b"}) fleet.Set(pop, Silent());
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.plan().frozen());
  CHECK(fleet.StateOf("e") == v1::Plan::WITHDRAWN);
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED) == Pops{"a", "b", "c", "d"});
  fleet.Set("e", Healthy()).Step();
  INFO(fleet.Describe());
  CHECK(fleet.StateOf("e") == v1::Plan::ANNOUNCED);
}

// ---- operator intents ---------------------------------------------------------------------------

TEST_CASE("refuses a drain that would break the floor", "[policy][plan]") {
  struct Row {
    const char* what;
    Action action;
    std::vector<std::string> removed_first;  // accepted intents before the one under test
    Pops broken;
    bool refused;
  };
  constexpr Action kDrain = v1::OperatorIntent::ACTION_DRAIN;
  constexpr Action kWithdraw = v1::OperatorIntent::ACTION_WITHDRAW;
  const Row row = GENERATE(values<Row>({
      {"a drain that leaves the floor", kDrain, {}, {}, false},
      {"a drain after another drain", kDrain, {"b"}, {}, true},
      {"a withdraw after another drain", kWithdraw, {"b"}, {}, true},
      {"a drain while another POP is broken", kDrain, {}, {"c"}, true},
      {"a withdraw that leaves the floor", kWithdraw, {}, {}, false},
  }));
  INFO(row.what);
  FleetSpec spec = Fleet(3);
  spec.safety.floor_min_pops = 2;
  spec.safety.withdraw_after = 3;
  Fleetwide fleet(spec);
  for (const std::string& pop : row.broken) fleet.Set(pop, ListenersDown());
  for (const std::string& pop : row.removed_first) {
    fleet.intents.push_back(Intent(v1::OperatorIntent::ACTION_DRAIN, pop));
  }
  fleet.intents.push_back(Intent(row.action, "a"));
  fleet.Step();
  INFO(fleet.Describe());

  REQUIRE(fleet.plan().intents_size() == static_cast<int>(fleet.intents.size()));
  const auto& outcome = fleet.plan().intents(fleet.plan().intents_size() - 1);
  CHECK(outcome.intent().pop() == "a");
  if (row.refused) {
    CHECK_FALSE(outcome.applied());
    CHECK_THAT(outcome.explanation(), StartsWith("refused:"));
    CHECK(fleet.StateOf("a") == v1::Plan::ANNOUNCED);
  } else {
    CHECK(outcome.applied());
    CHECK(fleet.StateOf("a") == (row.action == kDrain ? v1::Plan::DRAINING : v1::Plan::WITHDRAWN));
  }
  CHECK(fleet.Prefix("web").announcing() >= 2);
  CHECK_FALSE(fleet.HasAlarm("break_glass"));
}

TEST_CASE("break-glass drain is applied and recorded", "[policy][plan]") {
  const Action action =
      GENERATE(v1::OperatorIntent::ACTION_DRAIN, v1::OperatorIntent::ACTION_WITHDRAW);
  FleetSpec spec = Fleet(3);
  spec.safety.floor_min_pops = 2;
  Fleetwide fleet(spec);
  fleet.intents.push_back(Intent(v1::OperatorIntent::ACTION_DRAIN, "b"));
  fleet.intents.push_back(Intent(action, "a", "", /*break_glass=*/true));
  fleet.Step();
  INFO(fleet.Describe());
  REQUIRE(fleet.plan().intents_size() == 2);
  CHECK(fleet.plan().intents(0).applied());
  CHECK(fleet.plan().intents(1).applied());
  CHECK(fleet.StateOf("a") ==
        (action == v1::OperatorIntent::ACTION_DRAIN ? v1::Plan::DRAINING : v1::Plan::WITHDRAWN));
  CHECK(fleet.StateOf("b") == v1::Plan::DRAINING);
  CHECK(fleet.Prefix("web").announcing() == 1);
  CHECK(fleet.HasAlarm("break_glass"));
  bool names_reason = false;
  for (const auto& a : fleet.plan().alarms()) {
    if (a.kind() == "break_glass") {
      names_reason = a.message().find("fibre cut") != std::string::npos;
    }
  }
  CHECK(names_reason);
}

TEST_CASE("an operator intent on one prefix leaves the POP's other prefixes alone",
          "[policy][plan]") {
  FleetSpec spec = Fleet(3);
  spec.prefixes = {{"web", "", false}, {"api", "", false}};
  spec.services = {{"www", {"web"}, ""}, {"api", {"api"}, ""}};
  Fleetwide fleet(spec);
  fleet.intents.push_back(Intent(v1::OperatorIntent::ACTION_WITHDRAW, "a", "api"));
  fleet.intents.push_back(Intent(v1::OperatorIntent::ACTION_DRAIN, "b", "web"));
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.StateOf("a", "api") == v1::Plan::WITHDRAWN);
  CHECK(fleet.StateOf("a", "web") == v1::Plan::ANNOUNCED);
  CHECK(fleet.StateOf("b", "web") == v1::Plan::DRAINING);
  CHECK(fleet.StateOf("b", "api") == v1::Plan::ANNOUNCED);
  // Taking the intents away puts everything back.
  fleet.intents.clear();
  fleet.Step();
  INFO(fleet.Describe());
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED, "web") == Pops{"a", "b", "c"});
  CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED, "api") == Pops{"a", "b", "c"});
}

// ---- DNS ----------------------------------------------------------------------------------------

TEST_CASE("a draining POP answers DNS with weight zero", "[policy][plan]") {
  Fleetwide fleet(Fleet(3));
  fleet.intents.push_back(Intent(v1::OperatorIntent::ACTION_DRAIN, "b"));
  fleet.Step();
  INFO(fleet.Describe());
  std::map<std::string, uint32_t> weight;
  for (const auto& a : fleet.Service().answers()) weight[a.pop()] = a.weight();
  CHECK(weight == std::map<std::string, uint32_t>{{"a", 100}, {"b", 0}, {"c", 100}});
}

TEST_CASE("keeps the DNS floor when POPs are withdrawn", "[policy][plan]") {
  // The prefix may shrink to one POP; the name needs two with weight. The next best POP whose
  // prefix is announced somewhere is added back to the answers.
  FleetSpec spec = Fleet(3);
  spec.services = {{"www", {"web"}, "floor: {min_pops: 2}"}};
  spec.pops[1].preference = 10;
  Fleetwide fleet(spec);
  fleet.Set("b", Backends()).Set("c", Backends());
  fleet.Step();
  INFO(fleet.Describe());
  REQUIRE(fleet.PopsIn(v1::Plan::ANNOUNCED) == Pops{"a"});
  const auto& service = fleet.Service();
  CHECK(service.floor() == 2);
  std::map<std::string, std::string> reason;
  for (const auto& a : service.answers()) {
    if (a.weight() > 0) reason[a.pop()] = a.reason();
  }
  REQUIRE(reason.size() == 2);
  CHECK(reason.count("a") == 1);
  REQUIRE(reason.count("b") == 1);  // preference 10 ranks b before c
  CHECK_THAT(reason["b"], Contains("kept by floor"));
}

TEST_CASE("DNS answers never name a VIP whose prefix is withdrawn everywhere", "[policy][plan]") {
  // www answers from an IPv4 and an IPv6 prefix. The IPv6 one is withdrawn at every POP (by
  // break-glass intents, or by health with the governor off); its VIPs leave the answers, and
  // the IPv4 ones stay.
  const bool governor = GENERATE(true, false);
  FleetSpec spec = Fleet(3);
  spec.prefixes = {{"web4", "", false}, {"web6", "", true}};
  spec.services = {{"www", {"web4", "web6"}, "floor: {min_pops: 3}"}};
  PlannerOptions options;
  options.governor = governor;
  Fleetwide fleet(spec, options);
  for (const char* pop : {"a", "b", "c"}) {
    fleet.intents.push_back(
        Intent(v1::OperatorIntent::ACTION_WITHDRAW, pop, "web6", /*break_glass=*/true));
  }
  fleet.Step();
  INFO(fleet.Describe());
  REQUIRE(fleet.PopsIn(v1::Plan::WITHDRAWN, "web6") == Pops{"a", "b", "c"});
  std::vector<std::string> addresses;
  for (const auto& a : fleet.Service().answers()) addresses.push_back(a.address());
  std::sort(addresses.begin(), addresses.end());
  CHECK(addresses == std::vector<std::string>{"198.18.0.1", "198.18.0.2", "198.18.0.3"});

  // Every POP unhealthy, the governor off: nothing is announced, and nothing answers.
  if (!governor) {
    fleet.intents.clear();
    for (const char* pop : {"a", "b", "c"}) fleet.Set(pop, Backends());
    fleet.Step();
    INFO(fleet.Describe());
    CHECK(fleet.PopsIn(v1::Plan::ANNOUNCED, "web4").empty());
    CHECK(fleet.Service().answers().empty());
  }
}

TEST_CASE("the DNS floor never adds a VIP whose prefix is announced nowhere", "[policy][plan]") {
  // Only c announces the IPv6 prefix, and c's listeners are down: web6 is announced nowhere.
  // The name's floor (3) wants c back in the answers; it may come back with its IPv4 VIP, whose
  // prefix a and b announce, but never with its IPv6 one.
  FleetSpec spec = Fleet(3);
  spec.prefixes = {{"web4", "", false}, {"web6", "", true}};
  spec.pops[0].prefixes = {"web4"};
  spec.pops[1].prefixes = {"web4"};
  spec.services = {{"www", {"web4", "web6"}, "floor: {min_pops: 3}"}};
  Fleetwide fleet(spec);
  fleet.Set("c", ListenersDown());
  fleet.Step();
  INFO(fleet.Describe());
  REQUIRE(fleet.PopsIn(v1::Plan::ANNOUNCED, "web6").empty());
  REQUIRE(fleet.Service().floor() == 3);
  for (const auto& a : fleet.Service().answers()) {
    CHECK_THAT(a.address(), StartsWith("198.18.0."));
  }
}

// ---- the governor switched off ------------------------------------------------------------------

TEST_CASE("with the governor off, health acts alone", "[policy][plan]") {
  FleetSpec spec = Fleet(4);
  spec.safety.floor_min_pops = 3;
  spec.safety.withdraw_after = 3;
  spec.safety.max_withdrawals = 1;
  spec.safety.correlated_fraction = 0.3;
  spec.safety.shared_fault_fraction = 0.5;
  PlannerOptions options;
  options.governor = false;
  Fleetwide fleet(spec, options);
  fleet.Step();
  for (const char* pop : {"a", "b", "c"}) fleet.Set(pop, Backends());
  fleet.intents.push_back(Intent(v1::OperatorIntent::ACTION_DRAIN, "d"));
  fleet.Step();
  INFO(fleet.Describe());
  // No hysteresis, rate limit, shared-fault exemption, freeze or floor; intents unchecked.
  CHECK(fleet.PopsIn(v1::Plan::WITHDRAWN) == Pops{"a", "b", "c"});
  CHECK(fleet.StateOf("d") == v1::Plan::DRAINING);
  CHECK(fleet.Prefix("web").announcing() == 0);
  CHECK_FALSE(fleet.plan().frozen());
  REQUIRE(fleet.plan().intents_size() == 1);
  CHECK(fleet.plan().intents(0).applied());
}

// ---- purity -------------------------------------------------------------------------------------

TEST_CASE("the same input makes the same plan", "[policy][plan]") {
  FleetSpec spec = Fleet(5);
  spec.safety.withdraw_after = 2;
  spec.safety.correlated_fraction = 0.5;
  Fleetwide fleet(spec);
  fleet.Set("a", Backends()).Set("b", ListenersDown()).Set("c", Aged(absl::Minutes(1)));
  fleet.intents.push_back(Intent(v1::OperatorIntent::ACTION_DRAIN, "d"));
  fleet.Steps(3);
  PlanInput in;
  in.config = &fleet.config();
  in.reports = fleet.Reports();
  in.intents = fleet.intents;
  in.previous = &fleet.plan();
  in.now = fleet.now() + absl::Seconds(10);
  const std::string first = MakePlan(in).SerializeAsString();
  std::reverse(in.reports.begin(), in.reports.end());
  CHECK(MakePlan(in).SerializeAsString() == first);
}

}  // namespace
}  // namespace holdfast::policy
