// A seeded, reproducible randomized simulation of the planner and its safety governor
// (DESIGN.md, "The central invariant: no global blackhole"; issue 8, item 5).
//
// Each fleet is random: 2..12 POPs in 1..4 regions with 1..3 nodes each, 1..4 anycast prefixes
// announced by random subsets of them (with or without VIPs, withdrawn or de-preferred when
// unhealthy), 1..3 service names over those prefixes, random floors that validate and a random
// governor policy. It is written as YAML and goes through LoadAndValidate, the path the daemons
// run. Its fault schedule is random too: POPs failing and recovering, listeners going down,
// backends failing, nodes going silent until their reports are stale, correlated failures of
// most POPs at once, flapping, operator drains and withdrawals with and without break-glass,
// freeze acknowledgements. Every step advances the clock, sends the nodes' reports and feeds
// the previous plan back into MakePlan. After every step the simulation checks, from its own
// ground truth (what the nodes report, not what the plan says):
//   (a) the invariant: for every prefix, the POPs ANNOUNCED and able to serve are at least
//       min(floor, able POPs not removed by an operator intent the plan applied), unless a
//       break-glass intent the plan applied touches the prefix; and, stricter, with no
//       break-glass intent at least min(floor, able POPs): an intent that is not break-glass
//       never takes a prefix below its floor ("a-strict");
//   (b) a plan never withdraws or de-prefers, for health, a POP that is healthy and not removed
//       by an operator: one that has not been unhealthy withdraw_after plans in a row (or broken)
//       since it was last healthy restore_after plans in a row;
//   (c) DNS: an ANNOUNCED POP answers with each of its VIPs at its capacity weight, a DRAINING
//       one at weight 0; a name has an answer of weight > 0 whenever one of its prefixes is
//       announced and a POP with a VIP in it could answer, and answers from at least
//       min(service floor, POPs that could answer) POPs; never a VIP whose prefix no POP
//       announces. "c-intent": operator intents without break-glass left a name with no answer
//       at all while its prefix is announced (DESIGN.md's invariant covers DNS names too). A name
//       left with weight-0 answers only by drains is counted ("note-dns-drained"), not failed;
//   (d) the plan is complete and its own counts agree with the ground truth.
//
// Usage:
//   governor_sim [--seed N] [--fleets N] [--governor on|off] [--expect-violations]
//                [--min-steps N] [--max-steps N] [--steps N] [--events I,J,...] [--quiet]
// Fleet i is generated from seed N+i alone, so `--seed S --fleets 1` replays the fleet that was
// printed with seed S. --steps and --events cut that fleet's schedule down to a scenario the
// minimizer found (they only make sense with --fleets 1). With the governor on the exit status
// is 0 when no check fails; with --expect-violations, 0 when invariant (a) fails in at least one
// fleet (the governor off must show what it prevents). 2 is a bug in the simulation itself.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "google/protobuf/util/message_differencer.h"
#include "holdfast/v1/config.pb.h"
#include "holdfast/v1/plan.pb.h"
#include "policy/config/loader.h"
#include "policy/finding.h"
#include "policy/plan/planner.h"
#include "policy/safety/floor.h"
#include "policy/validate/validator.h"

namespace holdfast::sim {
namespace {

using policy::FloorCount;
using State = v1::Plan::State;
using Action = v1::OperatorIntent::Action;

// ---- randomness -------------------------------------------------------------------------------

// mt19937_64's sequence is fixed by the standard; the distributions are not, so they are here.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  // Uniform in [lo, hi].
  int Int(int lo, int hi) {
    return lo + static_cast<int>(gen_() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return static_cast<double>(gen_() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Int(0, static_cast<int>(v.size()) - 1))];
  }

 private:
  std::mt19937_64 gen_;
};

// ---- the fleet --------------------------------------------------------------------------------

std::string Fixed(double v) { return absl::StrFormat("%g", v); }

// Picks a floor for something `eligible` POPs can serve that validates against the default
// (min_pops 1, min_fraction `default_fraction`); empty for none of its own.
std::string RandomFloor(Rng& rng, uint32_t eligible, double default_fraction) {
  if (!rng.Chance(0.5)) return "";
  for (int attempt = 0; attempt < 8; ++attempt) {
    v1::Floor f;
    std::vector<std::string> fields;
    if (rng.Chance(0.7)) {
      f.set_min_pops(static_cast<uint32_t>(rng.Int(0, static_cast<int>(eligible))));
      fields.push_back(absl::StrCat("min_pops: ", f.min_pops()));
    }
    if (rng.Chance(0.6)) {
      f.set_min_fraction(rng.Pick<double>({0, 0.25, 0.34, 0.5, 0.75, 1.0}));
      fields.push_back(absl::StrCat("min_fraction: ", Fixed(f.min_fraction())));
    }
    const bool zero_ok = rng.Chance(0.1);
    if (zero_ok) {
      f.set_allow_zero(true);
      fields.push_back("allow_zero: true");
    }
    v1::DefaultFloor d;
    d.set_min_pops(1);
    d.set_min_fraction(default_fraction);
    const uint32_t count = FloorCount(policy::ResolveFloor(&f, d), eligible);
    if (!fields.empty() && count <= eligible && (count > 0 || zero_ok)) {
      return absl::StrCat("floor: {", absl::StrJoin(fields, ", "), "}");
    }
  }
  return "";
}

// A random fleet as YAML.
std::string RandomFleet(Rng& rng) {
  const int pops = rng.Int(2, 12);
  const int regions = rng.Int(1, 4);
  const int prefixes = rng.Int(1, 4);
  const int services = rng.Int(1, 3);
  const double default_fraction = rng.Pick<double>({0, 0.25, 0.5});

  // announce[p][k]: POP k announces prefix p; vips[p][k]: with how many VIPs.
  std::vector<std::vector<bool>> announce(prefixes, std::vector<bool>(pops));
  std::vector<std::vector<int>> vips(prefixes, std::vector<int>(pops));
  std::vector<bool> v6(prefixes);
  for (int p = 0; p < prefixes; ++p) {
    v6[p] = rng.Chance(0.3);
    const double share = 0.3 + 0.7 * (rng.Int(0, 100) / 100.0);
    for (int k = 0; k < pops; ++k) announce[p][k] = rng.Chance(share);
    announce[p][rng.Int(0, pops - 1)] = true;
    for (int k = 0; k < pops; ++k) {
      if (announce[p][k] && rng.Chance(0.85)) vips[p][k] = rng.Chance(0.2) ? 2 : 1;
    }
  }
  std::vector<std::vector<int>> service_prefixes(services);
  std::vector<int> uses(prefixes);
  for (int s = 0; s < services; ++s) {
    const int first = rng.Int(0, prefixes - 1);
    service_prefixes[s].push_back(first);
    if (prefixes > 1 && rng.Chance(0.4)) {
      const int second = (first + rng.Int(1, prefixes - 1)) % prefixes;
      service_prefixes[s].push_back(second);
    }
    // A name needs a POP with a VIP to answer from, or its floor cannot validate.
    bool any = false;
    for (int p : service_prefixes[s]) {
      for (int k = 0; k < pops; ++k) any = any || vips[p][k] > 0;
    }
    if (!any) {
      const int p = service_prefixes[s][0];
      for (int k = 0; k < pops; ++k) {
        if (announce[p][k]) {
          vips[p][k] = 1;
          break;
        }
      }
    }
    for (int p : service_prefixes[s]) ++uses[p];
  }

  std::string y =
      "clusters:\n"
      "  - name: app\n"
      "    endpoints: [{address: 10.255.0.1, port: 80}]\n"
      "listeners:\n"
      "  - {name: http, port: 8080, protocol: http}\n"
      "routes:\n"
      "  - {name: app, cluster: app}\n"
      "prefixes:\n";
  for (int p = 0; p < prefixes; ++p) {
    uint32_t eligible = 0;
    for (int k = 0; k < pops; ++k) eligible += announce[p][k] ? 1 : 0;
    std::vector<std::string> extra;
    if (uses[p] > 1) extra.push_back("shared: true");
    if (std::string floor = RandomFloor(rng, eligible, default_fraction); !floor.empty()) {
      extra.push_back(floor);
    }
    if (rng.Chance(0.25)) {
      extra.push_back(
          absl::StrCat("on_unhealthy: {kind: deprefer, as_path_prepend: ", rng.Int(1, 10), "}"));
    }
    absl::StrAppend(
        &y, "  - {name: p", p, ", cidr: ",
        v6[p] ? absl::StrCat("2001:db8:", p, "::/48") : absl::StrCat("198.18.", p, ".0/24"),
        extra.empty() ? "" : ", ", absl::StrJoin(extra, ", "), "}\n");
  }
  y += "pops:\n";
  for (int k = 0; k < pops; ++k) {
    absl::StrAppend(&y, "  - name: pop", k, "\n    region: r", rng.Int(1, regions),
                    "\n    capacity_weight: ", rng.Int(1, 300),
                    "\n    preference: ", rng.Int(1, 200), "\n    nodes:\n");
    const int nodes = rng.Int(1, 3);
    for (int n = 0; n < nodes; ++n) {
      absl::StrAppend(&y, "      - {name: pop", k, "-", n + 1, ", addresses: [10.", k, ".", n,
                      ".1]}\n");
    }
    absl::StrAppend(&y, "    bgp: {local_asn: ", 65001 + k,
                    ", peers: [{address: 10.254.0.1, asn: 65000}]}\n    announce:");
    bool any = false;
    for (int p = 0; p < prefixes; ++p) {
      if (!announce[p][k]) continue;
      if (!any) y += "\n";
      any = true;
      std::vector<std::string> list;
      for (int v = 0; v < vips[p][k]; ++v) {
        list.push_back(v6[p] ? absl::StrCat("\"2001:db8:", p, "::", k * 2 + v + 1, "\"")
                             : absl::StrCat("198.18.", p, ".", k * 2 + v + 1));
      }
      absl::StrAppend(&y, "      - {prefix: p", p,
                      list.empty() ? "" : absl::StrCat(", vips: [", absl::StrJoin(list, ", "), "]"),
                      "}\n");
    }
    if (!any) y += " []\n";
  }
  y += "dns:\n"
       "  zones:\n"
       "    - name: example.net.\n"
       "      soa: {mname: ns1.example.net., rname: hostmaster.example.net.}\n"
       "      ns: [ns1.example.net.]\n"
       "  services:\n";
  for (int s = 0; s < services; ++s) {
    std::set<int> eligible;
    for (int p : service_prefixes[s]) {
      for (int k = 0; k < pops; ++k) {
        if (vips[p][k] > 0) eligible.insert(k);
      }
    }
    std::vector<std::string> names;
    for (int p : service_prefixes[s]) names.push_back(absl::StrCat("p", p));
    const std::string floor =
        RandomFloor(rng, static_cast<uint32_t>(eligible.size()), default_fraction);
    absl::StrAppend(&y, "    - {name: s", s, ".example.net., prefixes: [",
                    absl::StrJoin(names, ", "), "]", floor.empty() ? "" : ", ", floor, "}\n");
  }
  absl::StrAppend(
      &y, "safety:\n", "  default_floor: {min_pops: 1, min_fraction: ", Fixed(default_fraction),
      "}\n", "  withdrawal_rate: {max_withdrawals: ", rng.Int(1, 3),
      ", window: ", rng.Pick<std::string>({"1m", "2m", "5m", "10m"}), "}\n",
      "  correlated_failure: {fraction: ", Fixed(rng.Pick<double>({0.2, 0.3, 0.5, 0.7, 1.0})),
      ", window: ", rng.Pick<std::string>({"30s", "1m", "2m", "5m"}), "}\n",
      "  health: {stale_after: ", rng.Pick<std::string>({"15s", "30s", "60s"}),
      ", min_healthy_fraction: ", Fixed(rng.Pick<double>({0.25, 0.5, 0.75})),
      ", withdraw_after: ", rng.Int(1, 4), ", restore_after: ", rng.Int(1, 4),
      ", shared_fault_fraction: ", Fixed(rng.Pick<double>({0.3, 0.5, 0.7, 1.0})), "}\n");
  return y;
}

// ---- the fault schedule -----------------------------------------------------------------------

// kUnheard: the node serves and reports healthy, but its BGP sessions are down at the router
// (the WhatsApp 2014 case): no router hears it.
enum class Mode : uint8_t { kOk, kListenersDown, kBackends, kSilent, kUnheard };

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kOk:
      return "ok";
    case Mode::kListenersDown:
      return "listeners down";
    case Mode::kBackends:
      return "backends failing";
    case Mode::kSilent:
      return "silent";
    case Mode::kUnheard:
      return "sessions down";
  }
  return "?";
}

struct Event {
  enum class Kind : uint8_t { kNodes, kAddIntent, kDropIntent };
  Kind kind = Kind::kNodes;
  int id = 0;  // number in the whole schedule, for --events
  // kNodes: nodes of `pop` (all, or only `node`) turn to `mode`, reporting `healthy` of `total`
  // backend endpoints.
  int pop = 0;
  int node = -1;
  Mode mode = Mode::kOk;
  uint32_t healthy = 0;
  uint32_t total = 0;
  std::string why;  // "correlated", "flap", ...
  // kAddIntent
  v1::OperatorIntent intent;
  // kDropIntent: drops the intent at this position (modulo the number in force).
  int drop = 0;
};

struct Step {
  int dt_seconds = 10;
  std::vector<Event> events;
};

struct Fleet {
  std::string yaml;
  v1::Config config;
  // Per POP, its nodes' names.
  std::vector<std::vector<std::string>> nodes;
};

// Backend counts for a node in `mode`: below min_healthy_fraction when failing.
void Counts(Rng& rng, Mode mode, double min_fraction, Event& e) {
  e.total = static_cast<uint32_t>(rng.Int(mode == Mode::kOk ? 0 : 1, 10));
  if (mode == Mode::kBackends) {
    const int below = static_cast<int>(std::ceil(min_fraction * e.total)) - 1;
    e.healthy = static_cast<uint32_t>(rng.Int(0, std::max(0, below)));
  } else {
    e.healthy = e.total;
  }
}

std::vector<Step> RandomSchedule(Rng& rng, const Fleet& fleet, int min_steps, int max_steps) {
  const v1::Config& c = fleet.config;
  const int pops = c.pops_size();
  const double min_fraction = c.safety().health().min_healthy_fraction();
  std::vector<Step> steps(static_cast<size_t>(rng.Int(min_steps, max_steps)));
  auto fault = [&](Rng& r) {
    return r.Pick<Mode>(
        {Mode::kListenersDown, Mode::kBackends, Mode::kBackends, Mode::kSilent, Mode::kUnheard});
  };
  auto pop_event = [&](int pop, Mode mode, const std::string& why) {
    Event e;
    e.pop = pop;
    e.mode = mode;
    e.why = why;
    Counts(rng, mode, min_fraction, e);
    return e;
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    Step& s = steps[i];
    s.dt_seconds = rng.Int(5, 20);
    if (rng.Chance(0.25)) s.events.push_back(pop_event(rng.Int(0, pops - 1), fault(rng), ""));
    if (rng.Chance(0.2)) s.events.push_back(pop_event(rng.Int(0, pops - 1), Mode::kOk, ""));
    if (rng.Chance(0.12)) {
      Event e = pop_event(rng.Int(0, pops - 1), rng.Chance(0.4) ? Mode::kOk : fault(rng), "");
      e.node = rng.Int(0, static_cast<int>(fleet.nodes[static_cast<size_t>(e.pop)].size()) - 1);
      s.events.push_back(e);
    }
    if (rng.Chance(0.06)) {
      // Most POPs at once, the same way: the 2021 case.
      const Mode mode = fault(rng);
      const double share = 0.5 + 0.5 * (rng.Int(0, 100) / 100.0);
      for (int k = 0; k < pops; ++k) {
        if (rng.Chance(share)) s.events.push_back(pop_event(k, mode, "correlated"));
      }
    }
    if (rng.Chance(0.04)) {
      for (int k = 0; k < pops; ++k) s.events.push_back(pop_event(k, Mode::kOk, "all recover"));
    }
    if (rng.Chance(0.05)) {
      // Flapping: unhealthy and healthy in turn, every step or every other.
      const int pop = rng.Int(0, pops - 1);
      const Mode mode = fault(rng);
      const int period = rng.Int(1, 2);
      const int flips = rng.Int(3, 10);
      for (int f = 0; f < flips; ++f) {
        const size_t at = i + static_cast<size_t>(f * period);
        if (at >= steps.size()) break;
        steps[at].events.push_back(pop_event(pop, f % 2 == 0 ? mode : Mode::kOk, "flap"));
      }
    }
    if (rng.Chance(0.08)) {
      Event e;
      e.kind = Event::Kind::kAddIntent;
      const int roll = rng.Int(0, 9);
      const Action action = roll < 6   ? v1::OperatorIntent::ACTION_DRAIN
                            : roll < 9 ? v1::OperatorIntent::ACTION_WITHDRAW
                                       : v1::OperatorIntent::ACTION_ACK_FREEZE;
      e.intent.set_action(action);
      e.intent.set_author("sim");
      if (action != v1::OperatorIntent::ACTION_ACK_FREEZE) {
        const v1::Pop& pop = c.pops(rng.Int(0, pops - 1));
        e.intent.set_pop(pop.name());
        if (pop.announce_size() > 0 && rng.Chance(0.5)) {
          e.intent.set_prefix(pop.announce(rng.Int(0, pop.announce_size() - 1)).prefix());
        }
        if (rng.Chance(0.3)) e.intent.set_break_glass(true);
      }
      e.intent.set_reason(e.intent.break_glass() ? "sim: break glass" : "sim: maintenance");
      s.events.push_back(e);
    }
    if (rng.Chance(0.06)) {
      Event e;
      e.kind = Event::Kind::kDropIntent;
      e.drop = rng.Int(0, 7);
      s.events.push_back(e);
    }
  }
  int id = 0;
  for (Step& s : steps) {
    for (Event& e : s.events) e.id = id++;
  }
  return steps;
}

std::string Describe(const Fleet& fleet, const Event& e) {
  switch (e.kind) {
    case Event::Kind::kNodes: {
      const std::string& pop = fleet.config.pops(e.pop).name();
      std::string what =
          e.node < 0
              ? absl::StrCat("pop ", pop)
              : absl::StrCat("node ",
                             fleet.nodes[static_cast<size_t>(e.pop)][static_cast<size_t>(e.node)]);
      absl::StrAppend(&what, " -> ", ModeName(e.mode));
      if (e.mode == Mode::kOk || e.mode == Mode::kBackends) {
        absl::StrAppend(&what, " (", e.healthy, "/", e.total, " endpoints)");
      }
      if (!e.why.empty()) absl::StrAppend(&what, " [", e.why, "]");
      return what;
    }
    case Event::Kind::kAddIntent: {
      const v1::OperatorIntent& i = e.intent;
      return absl::StrCat("intent+ ", v1::OperatorIntent::Action_Name(i.action()),
                          i.pop().empty() ? "" : " pop=", i.pop(),
                          i.action() == v1::OperatorIntent::ACTION_ACK_FREEZE ? ""
                          : i.prefix().empty()                                ? " prefix=*"
                                                                              : " prefix=",
                          i.prefix(), i.break_glass() ? " break_glass" : "");
    }
    case Event::Kind::kDropIntent:
      return absl::StrCat("intent- #", e.drop, " (mod the intents in force)");
  }
  return "?";
}

// ---- running it -------------------------------------------------------------------------------

enum class Health : uint8_t { kHealthy, kBackends, kStale, kBroken };
const char* HealthName(Health h) {
  switch (h) {
    case Health::kHealthy:
      return "healthy";
    case Health::kBackends:
      return "backends";
    case Health::kStale:
      return "stale";
    case Health::kBroken:
      return "broken";
  }
  return "?";
}

// The ground truth about one POP at one step, from the reports the planner is given.
struct Truth {
  Health health = Health::kHealthy;
  // A node serves (listeners up) and a router hears it (a session established): the POP's
  // announcement reaches the routers. The invariant is counted by this, as the routers hear it.
  bool able = false;
  // It serves, and no router hears it: whatever the plan says, DNS need not hand it out.
  bool unheard = false;
  uint32_t unhealthy_streak = 0;
  uint32_t healthy_streak = 0;
  // Health may have it withdrawn (or de-preferred): unhealthy withdraw_after plans in a row, or
  // broken, and not healthy restore_after plans in a row since.
  bool may_be_withdrawn = false;
};

struct Violation {
  std::string kind;  // "a", "a-strict", "b", "c", "d"
  int step = 0;      // 1-based
  std::string message;
};

struct Outcome {
  std::optional<Violation> first;
  // The first violation of each kind.
  std::map<std::string, Violation> first_of;
  // Steps x prefixes where (a) failed, and the fleets where it did (0 or 1 here).
  int a_violations = 0;
  std::map<std::string, int> by_kind;
  int steps = 0;
  // Steps x prefixes announced by no able POP although an able one was there to keep (a
  // global blackhole of that prefix).
  int blackholes = 0;
  std::string trace;  // the last plans, for a printout
};

struct RunOptions {
  bool governor = true;
  // Stop at the first violation (the governor on), or count them all (off).
  bool stop_at_first = true;
  bool trace = false;
  int only_steps = -1;                  // run only this many steps
  const std::set<int>* only = nullptr;  // run only the events with these ids
};

class Runner {
 public:
  Runner(const Fleet& fleet, const RunOptions& options) : c_(fleet.config), o_(options) {
    for (int k = 0; k < c_.pops_size(); ++k) {
      pop_index_[c_.pops(k).name()] = k;
      for (const std::string& n : fleet.nodes[static_cast<size_t>(k)]) {
        NodeState node;
        node.pop = k;
        node.name = n;
        nodes_.push_back(std::move(node));
      }
    }
    truth_.resize(static_cast<size_t>(c_.pops_size()));
  }

  Outcome Run(const std::vector<Step>& steps) {
    Outcome out;
    const int n = o_.only_steps >= 0 ? std::min<int>(o_.only_steps, static_cast<int>(steps.size()))
                                     : static_cast<int>(steps.size());
    for (int i = 0; i < n; ++i) {
      const Step& s = steps[static_cast<size_t>(i)];
      now_ += absl::Seconds(s.dt_seconds);
      for (const Event& e : s.events) {
        if (o_.only != nullptr && !o_.only->contains(e.id)) continue;
        Apply(e);
      }
      Report();
      Observe();
      policy::PlanInput in;
      in.config = &c_;
      in.reports = reports_;
      in.intents = intents_;
      in.previous = plan_.has_value() ? &*plan_ : nullptr;
      in.now = now_;
      policy::PlannerOptions po;
      po.governor = o_.governor;
      v1::Plan next = policy::MakePlan(in, po);
      plan_ = std::move(next);
      ++out.steps;
      std::vector<Violation> found;
      Check(i + 1, found);
      if (o_.trace) absl::StrAppend(&out.trace, Trace(i + 1));
      for (Violation& v : found) {
        ++out.by_kind[v.kind];
        if (v.kind.starts_with("note")) continue;
        if (v.kind == "a") ++out.a_violations;
        out.first_of.try_emplace(v.kind, v);
        if (!out.first.has_value()) out.first = v;
      }
      if (o_.stop_at_first && out.first.has_value()) break;
    }
    out.blackholes = blackholes_;
    return out;
  }

 private:
  struct NodeState {
    int pop;
    std::string name;
    Mode mode = Mode::kOk;
    uint32_t healthy = 4;
    uint32_t total = 4;
    std::optional<v1::HealthReport> last;
  };

  void Apply(const Event& e) {
    switch (e.kind) {
      case Event::Kind::kNodes: {
        int index = 0;
        for (NodeState& n : nodes_) {
          if (n.pop != e.pop) continue;
          if (e.node < 0 || e.node == index) {
            n.mode = e.mode;
            n.healthy = e.healthy;
            n.total = e.total;
          }
          ++index;
        }
        break;
      }
      case Event::Kind::kAddIntent:
        intents_.push_back(e.intent);
        break;
      case Event::Kind::kDropIntent:
        if (!intents_.empty()) {
          intents_.erase(intents_.begin() + e.drop % static_cast<int>(intents_.size()));
        }
        break;
    }
  }

  // Every node that is not silent reports now; a silent one's last report stays, and ages.
  void Report() {
    reports_.clear();
    for (NodeState& n : nodes_) {
      if (n.mode != Mode::kSilent) {
        v1::HealthReport r;
        r.set_pop(c_.pops(n.pop).name());
        r.set_node(n.name);
        *r.mutable_at() = ToProtoTimestamp(now_);
        *r.mutable_received_at() = r.at();
        r.set_listeners_up(n.mode != Mode::kListenersDown);
        v1::ClusterHealth* ch = r.add_clusters();
        ch->set_cluster("app");
        ch->set_healthy_endpoints(n.healthy);
        ch->set_total_endpoints(n.total);
        v1::BgpSession* session = r.add_bgp_sessions();
        session->set_peer("router");
        session->set_state(n.mode == Mode::kUnheard ? "active" : "established");
        n.last = std::move(r);
      }
      if (n.last.has_value()) reports_.push_back(*n.last);
    }
  }

  // The ground truth, by the rules of health alone (planner.h; issue 8): fresh reports only.
  void Observe() {
    const v1::HealthPolicy& h = c_.safety().health();
    const absl::Duration stale_after = FromProtoDuration(h.stale_after());
    std::vector<bool> fresh_any(truth_.size()), serving(truth_.size()), able(truth_.size());
    std::vector<uint64_t> healthy(truth_.size()), total(truth_.size());
    for (const v1::HealthReport& r : reports_) {
      const auto k = static_cast<size_t>(pop_index_.at(r.pop()));
      if (now_ - FromProtoTime(r.at()) > stale_after) continue;
      fresh_any[k] = true;
      if (!r.listeners_up()) continue;
      serving[k] = true;
      for (const v1::BgpSession& session : r.bgp_sessions()) {
        if (session.state() == "established") able[k] = true;
      }
      for (const v1::ClusterHealth& ch : r.clusters()) {
        healthy[k] += ch.healthy_endpoints();
        total[k] += ch.total_endpoints();
      }
    }
    for (size_t k = 0; k < truth_.size(); ++k) {
      Truth& t = truth_[k];
      t.able = able[k];
      t.unheard = serving[k] && !able[k];
      if (!fresh_any[k]) {
        t.health = Health::kStale;
      } else if (!serving[k]) {
        t.health = Health::kBroken;
      } else if (total[k] > 0 && static_cast<double>(healthy[k]) / static_cast<double>(total[k]) <
                                     h.min_healthy_fraction()) {
        t.health = Health::kBackends;
      } else {
        t.health = Health::kHealthy;
      }
      if (t.health == Health::kHealthy) {
        ++t.healthy_streak;
        t.unhealthy_streak = 0;
        if (t.healthy_streak >= std::max(1u, h.restore_after())) t.may_be_withdrawn = false;
      } else {
        ++t.unhealthy_streak;
        t.healthy_streak = 0;
        // Off, health acts at once.
        const uint32_t after = o_.governor ? std::max(1u, h.withdraw_after()) : 1;
        if (t.health == Health::kBroken || t.unhealthy_streak >= after) t.may_be_withdrawn = true;
      }
    }
  }

  const v1::Prefix& PrefixNamed(const std::string& name) const {
    for (const v1::Prefix& p : c_.prefixes()) {
      if (p.name() == name) return p;
    }
    return v1::Prefix::default_instance();
  }

  const v1::Plan::PrefixPlan* PrefixPlan(const std::string& prefix) const {
    for (const auto& p : plan_->prefixes()) {
      if (p.prefix() == prefix) return &p;
    }
    return nullptr;
  }

  // The plan's outcome of intent `i`, if the plan applied it.
  bool Applied(size_t i) const {
    return static_cast<int>(i) < plan_->intents_size() &&
           plan_->intents(static_cast<int>(i)).applied();
  }
  // An applied DRAIN or WITHDRAW of `pop` covers `prefix`; with `break_glass`, only one that
  // broke glass.
  bool Removed(const std::string& pop, const std::string& prefix, bool break_glass) const {
    for (size_t i = 0; i < intents_.size(); ++i) {
      const v1::OperatorIntent& in = intents_[i];
      if (in.action() != v1::OperatorIntent::ACTION_DRAIN &&
          in.action() != v1::OperatorIntent::ACTION_WITHDRAW) {
        continue;
      }
      if (in.pop() != pop || (!in.prefix().empty() && in.prefix() != prefix)) continue;
      if (break_glass && !in.break_glass()) continue;
      if (Applied(i)) return true;
    }
    return false;
  }
  // An applied break-glass intent touches one of `service`'s prefixes.
  bool BrokenGlassService(const v1::ServiceName& service) const {
    for (const std::string& prefix : service.prefixes()) {
      if (BrokenGlass(prefix)) return true;
    }
    return false;
  }
  // An applied break-glass intent touches `prefix` (at any POP).
  bool BrokenGlass(const std::string& prefix) const {
    for (const v1::Pop& pop : c_.pops()) {
      if (Removed(pop.name(), prefix, true)) return true;
    }
    return false;
  }

  void Check(int step, std::vector<Violation>& out) {
    auto fail = [&](const std::string& kind, std::string message) {
      out.push_back(Violation{kind, step, std::move(message)});
    };
    // (d) intents: one outcome each, in order.
    if (plan_->intents_size() != static_cast<int>(intents_.size())) {
      fail("d", absl::StrCat(plan_->intents_size(), " intent outcomes for ", intents_.size(),
                             " intents"));
    } else {
      for (size_t i = 0; i < intents_.size(); ++i) {
        if (!google::protobuf::util::MessageDifferencer::Equals(
                plan_->intents(static_cast<int>(i)).intent(), intents_[i])) {
          fail("d", absl::StrCat("intent outcome ", i, " is not about intent ", i));
        }
      }
    }

    // Decision of (pop, prefix), by prefix name then POP name.
    std::map<std::pair<std::string, std::string>, const v1::Plan::PopDecision*> decision;
    for (const v1::Prefix& prefix : c_.prefixes()) {
      const v1::Plan::PrefixPlan* pp = PrefixPlan(prefix.name());
      if (pp == nullptr) {
        fail("d", absl::StrCat("no plan for prefix ", prefix.name()));
        continue;
      }
      std::set<std::string> eligible;
      for (const v1::Pop& pop : c_.pops()) {
        for (const v1::Announcement& an : pop.announce()) {
          if (an.prefix() == prefix.name()) eligible.insert(pop.name());
        }
      }
      for (const auto& d : pp->pops()) {
        if (!eligible.contains(d.pop())) {
          fail("d", absl::StrCat("prefix ", prefix.name(), ": a decision for POP ", d.pop(),
                                 ", which does not announce it"));
        }
        decision[{prefix.name(), d.pop()}] = &d;
      }
      const uint32_t floor =
          FloorCount(policy::PrefixFloor(c_, prefix), static_cast<uint32_t>(eligible.size()));
      uint32_t announced_able = 0, able = 0, able_not_removed = 0;
      for (const std::string& pop : eligible) {
        const auto it = decision.find({prefix.name(), pop});
        if (it == decision.end()) {
          fail("d", absl::StrCat("prefix ", prefix.name(), ": no decision for POP ", pop));
          continue;
        }
        const Truth& t = truth_[static_cast<size_t>(pop_index_.at(pop))];
        if (t.able) {
          ++able;
          if (!Removed(pop, prefix.name(), false)) ++able_not_removed;
          if (it->second->state() == v1::Plan::ANNOUNCED) ++announced_able;
        }
      }
      // Off, the plan keeps no floor.
      if (o_.governor && pp->floor() != floor) {
        fail("d", absl::StrCat("prefix ", prefix.name(), ": plan says floor ", pp->floor(),
                               ", FloorCount says ", floor));
      }
      if (pp->announcing() != announced_able) {
        fail("d", absl::StrCat("prefix ", prefix.name(), ": plan says ", pp->announcing(),
                               " announcing, but ", announced_able,
                               " POPs are ANNOUNCED and able to serve"));
      }
      // (a) the invariant.
      const bool glass = BrokenGlass(prefix.name());
      if (!glass) {
        const uint32_t need = std::min(floor, able_not_removed);
        if (announced_able == 0 && need > 0) ++blackholes_;
        if (announced_able < need) {
          fail("a", absl::StrCat("prefix ", prefix.name(), ": ", announced_able,
                                 " POPs announce and can serve, but the floor is ", floor, " and ",
                                 able_not_removed,
                                 " able POPs are not removed by an operator: need ", need));
        } else if (o_.governor && announced_able < std::min(floor, able)) {
          fail("a-strict",
               absl::StrCat("prefix ", prefix.name(), ": ", announced_able,
                            " POPs announce and can serve, floor ", floor, ", ", able,
                            " able: an intent without break-glass took it below the floor"));
        }
      }
    }

    // (b) no health withdrawal of a healthy POP.
    for (int k = 0; k < c_.pops_size(); ++k) {
      const v1::Pop& pop = c_.pops(k);
      const Truth& t = truth_[static_cast<size_t>(k)];
      if (t.health != Health::kHealthy || t.may_be_withdrawn) continue;
      for (const v1::Announcement& an : pop.announce()) {
        if (Removed(pop.name(), an.prefix(), false)) continue;
        const auto it = decision.find({an.prefix(), pop.name()});
        if (it == decision.end()) continue;
        const v1::Plan::PopDecision& d = *it->second;
        if (d.state() != v1::Plan::ANNOUNCED || d.depreferred()) {
          fail("b", absl::StrCat("POP ", pop.name(), " is healthy (", t.healthy_streak,
                                 " plans in a row) and not removed by an operator, but prefix ",
                                 an.prefix(), " is ", v1::Plan::State_Name(d.state()),
                                 d.depreferred() ? " (depreferred)" : "", ": ", d.reason()));
        }
      }
    }

    // (c) DNS.
    for (const v1::ServiceName& service : c_.dns().services()) {
      const v1::Plan::ServicePlan* sp = nullptr;
      for (const auto& s : plan_->services()) {
        if (s.name() == service.name()) sp = &s;
      }
      if (sp == nullptr) {
        fail("d", absl::StrCat("no plan for service ", service.name()));
        continue;
      }
      // VIP -> (pop, prefix) over the service's prefixes.
      std::map<std::string, std::pair<std::string, std::string>> vip;
      std::set<std::string> with_vips;
      const std::set<std::string> vip_prefixes(service.prefixes().begin(),
                                               service.prefixes().end());
      for (const v1::Pop& pop : c_.pops()) {
        for (const v1::Announcement& an : pop.announce()) {
          if (std::find(service.prefixes().begin(), service.prefixes().end(), an.prefix()) ==
              service.prefixes().end()) {
            continue;
          }
          for (const std::string& v : an.vips()) vip[v] = {pop.name(), an.prefix()};
          if (an.vips_size() > 0) with_vips.insert(pop.name());
        }
      }
      // Off, DNS keeps no floor either.
      const uint32_t floor = o_.governor ? FloorCount(policy::ServiceFloor(c_, service),
                                                      static_cast<uint32_t>(with_vips.size()))
                                         : 0;
      if (o_.governor && sp->floor() != floor) {
        fail("d", absl::StrCat("service ", service.name(), ": plan says floor ", sp->floor(),
                               ", FloorCount says ", floor));
      }
      auto state = [&](const std::string& pop, const std::string& prefix) {
        const auto it = decision.find({prefix, pop});
        return it == decision.end() ? v1::Plan::STATE_UNSPECIFIED : it->second->state();
      };
      auto announced_by_some = [&](const std::string& prefix, bool or_draining) {
        for (const v1::Pop& pop : c_.pops()) {
          const State s = state(pop.name(), prefix);
          if (s == v1::Plan::ANNOUNCED || (or_draining && s == v1::Plan::DRAINING)) return true;
        }
        return false;
      };
      // An ANNOUNCED POP answers with each of its VIPs at its capacity weight (the configured
      // share of it when de-preferred), a DRAINING one at weight 0; one no router hears need not
      // answer (the floor may still add it).
      std::map<std::pair<std::string, std::string>, uint32_t> weight_of;  // (pop, VIP)
      for (const auto& a : sp->answers()) weight_of[{a.pop(), a.address()}] = a.weight();
      for (const v1::Pop& pop : c_.pops()) {
        for (const v1::Announcement& an : pop.announce()) {
          const State st = state(pop.name(), an.prefix());
          if (!vip_prefixes.contains(an.prefix()) ||
              (st != v1::Plan::ANNOUNCED && st != v1::Plan::DRAINING)) {
            continue;
          }
          const v1::Plan::PopDecision& d = *decision.at({an.prefix(), pop.name()});
          if (st == v1::Plan::ANNOUNCED &&
              truth_[static_cast<size_t>(pop_index_.at(pop.name()))].unheard) {
            continue;
          }
          uint32_t want = st == v1::Plan::ANNOUNCED ? pop.capacity_weight() : 0;
          if (st == v1::Plan::ANNOUNCED && d.depreferred()) {
            want = static_cast<uint32_t>(
                std::ceil(pop.capacity_weight() *
                          PrefixNamed(an.prefix()).on_unhealthy().dns_weight_fraction()));
          }
          for (const std::string& v : an.vips()) {
            const auto it = weight_of.find({pop.name(), v});
            if (it == weight_of.end() || it->second != want) {
              fail("c",
                   absl::StrCat("service ", service.name(), ": POP ", pop.name(), " is ",
                                v1::Plan::State_Name(st), " for ", an.prefix(), ", so it answers ",
                                v, " with weight ", want, "; the plan ",
                                it == weight_of.end() ? std::string("does not answer it")
                                                      : absl::StrCat("gives weight ", it->second)));
            }
          }
        }
      }
      std::set<std::string> weighted;
      for (const auto& a : sp->answers()) {
        const auto it = vip.find(a.address());
        if (it == vip.end() || it->second.first != a.pop()) {
          fail("c", absl::StrCat("service ", service.name(), " answers ", a.address(), " for POP ",
                                 a.pop(), ", which is not that POP's VIP for the name"));
          continue;
        }
        const std::string& prefix = it->second.second;
        if (!announced_by_some(prefix, true)) {
          fail("c", absl::StrCat("service ", service.name(), " answers ", a.address(), " (POP ",
                                 a.pop(), ") but no POP announces its prefix ", prefix));
        }
        if (state(a.pop(), prefix) == v1::Plan::DRAINING && a.weight() > 0) {
          fail("c", absl::StrCat("service ", service.name(), " gives draining POP ", a.pop(),
                                 " weight ", a.weight()));
        }
        if (a.weight() > 0) weighted.insert(a.pop());
      }
      // Could answer with weight: a POP with a VIP in a prefix of the name that some POP
      // announces, and no operator intent the plan applied keeping it out.
      std::set<std::string> could;
      bool self = false;     // an ANNOUNCED POP has a VIP for the name: it answers itself
      bool any_vip = false;  // a VIP whose prefix some POP announces
      for (const auto& [address, where] : vip) {
        const auto& [pop, prefix] = where;
        if (!announced_by_some(prefix, false)) continue;
        any_vip = true;
        if (state(pop, prefix) == v1::Plan::ANNOUNCED) self = true;
        if (!Removed(pop, prefix, false)) could.insert(pop);
      }
      if (sp->answers().empty() && (self || (floor > 0 && !could.empty()))) {
        fail("c", absl::StrCat("service ", service.name(),
                               " has no answer, yet one of its prefixes is announced and a POP "
                               "with a VIP in it could answer"));
      } else if (weighted.empty() && (self || (floor > 0 && !could.empty()))) {
        fail("c", absl::StrCat("service ", service.name(),
                               " has no answer of weight > 0, yet a POP with a VIP for it could "
                               "answer"));
      } else if (o_.governor && weighted.size() < std::min<size_t>(floor, could.size())) {
        fail("c", absl::StrCat("service ", service.name(), " answers from ", weighted.size(),
                               " POPs; its floor is ", floor, " and ", could.size(),
                               " POPs could answer"));
      } else if (floor > 0 && any_vip && could.empty() && !BrokenGlassService(service)) {
        // Each POP with a VIP for the name is taken out by an operator intent without
        // break-glass, while a prefix of the name is still announced. The planner's rules hold
        // an intent to its prefixes' floors only; DESIGN.md's invariant covers every DNS name.
        // No answer at all fails; answers of weight 0 only (draining POPs) are counted.
        if (sp->answers().empty()) {
          fail("c-intent", absl::StrCat("service ", service.name(), " (floor ", floor,
                                        ") has no answer: operator intents without break-glass "
                                        "took out every POP with a VIP for it"));
        } else if (weighted.empty()) {
          fail("note-dns-drained",
               absl::StrCat("service ", service.name(), " (floor ", floor,
                            ") answers with weight 0 only: drains without break-glass took out "
                            "every POP with a VIP for it"));
        }
      }
    }
  }

  std::string Trace(int step) const {
    std::string out = absl::StrCat("  after step ", step, ":");
    for (int k = 0; k < c_.pops_size(); ++k) {
      const Truth& t = truth_[static_cast<size_t>(k)];
      absl::StrAppend(&out, " ", c_.pops(k).name(), "=", HealthName(t.health),
                      t.able ? "" : "(unable)");
    }
    absl::StrAppend(&out, plan_->frozen() ? "  FROZEN" : "", "\n");
    for (const auto& p : plan_->prefixes()) {
      absl::StrAppend(&out, "    ", p.prefix(), " floor ", p.floor(), " announcing ",
                      p.announcing(), ":");
      for (const auto& d : p.pops()) {
        absl::StrAppend(&out, " ", d.pop(), "=", v1::Plan::State_Name(d.state()),
                        d.depreferred() ? "(depref)" : "", " [", d.reason(), "]");
      }
      out += "\n";
    }
    for (const auto& s : plan_->services()) {
      absl::StrAppend(&out, "    ", s.name(), " floor ", s.floor(), ":");
      for (const auto& a : s.answers()) {
        absl::StrAppend(&out, " ", a.pop(), "/", a.address(), "/w", a.weight());
      }
      out += "\n";
    }
    for (const auto& i : plan_->intents()) {
      absl::StrAppend(&out, "    intent ", v1::OperatorIntent::Action_Name(i.intent().action()),
                      " ", i.intent().pop(), i.applied() ? " applied" : " refused", ": ",
                      i.explanation(), "\n");
    }
    for (const auto& a : plan_->alarms()) {
      absl::StrAppend(&out, "    alarm ", a.kind(), ": ", a.message(), "\n");
    }
    return out;
  }

  const v1::Config& c_;
  RunOptions o_;
  std::map<std::string, int> pop_index_;
  std::vector<NodeState> nodes_;
  std::vector<Truth> truth_;
  std::vector<v1::HealthReport> reports_;
  std::vector<v1::OperatorIntent> intents_;
  std::optional<v1::Plan> plan_;
  int blackholes_ = 0;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

// ---- one fleet --------------------------------------------------------------------------------

struct Options {
  uint64_t seed = 1;
  int fleets = 10'000;
  bool governor = true;
  bool expect_violations = false;
  int min_steps = 10;
  int max_steps = 30;
  int only_steps = -1;
  std::optional<std::set<int>> only_events;
  bool quiet = false;
};

// Loads the fleet of `seed`; exits 2 when the generator made a config that does not validate.
Fleet MakeFleet(uint64_t seed, Rng& rng) {
  Fleet f;
  f.yaml = RandomFleet(rng);
  policy::LoadOptions load;
  load.read_file = [&f](const std::string&) -> absl::StatusOr<std::string> { return f.yaml; };
  policy::LoadedConfig loaded = policy::LoadAndValidate({"fleet.yaml"}, load, {});
  if (policy::HasErrors(loaded.findings)) {
    std::fprintf(stderr, "governor_sim: seed %llu made a config that does not validate:\n%s\n",
                 static_cast<unsigned long long>(seed), f.yaml.c_str());
    for (const policy::Finding& finding : loaded.findings) {
      std::fprintf(stderr, "  %d:%d: %s\n", finding.where.line, finding.where.column,
                   finding.message.c_str());
    }
    std::exit(2);
  }
  f.config = std::move(loaded.config);
  for (const v1::Pop& pop : f.config.pops()) {
    std::vector<std::string> names;
    for (const v1::Node& n : pop.nodes()) names.push_back(n.name());
    f.nodes.push_back(std::move(names));
  }
  return f;
}

// Shrinks a failing schedule: cuts the steps after the failure, then drops each event whose
// removal keeps a violation of the same kind. Returns the steps kept and the events kept.
std::pair<int, std::set<int>> Minimize(const Fleet& fleet, const std::vector<Step>& steps,
                                       const RunOptions& base, const Violation& v) {
  int n = v.step;
  auto within = [&](int steps_to_run) {
    std::set<int> ids;
    for (int i = 0; i < steps_to_run; ++i) {
      for (const Event& e : steps[static_cast<size_t>(i)].events) {
        if (base.only == nullptr || base.only->contains(e.id)) ids.insert(e.id);
      }
    }
    return ids;
  };
  std::set<int> kept = within(n);
  auto fails = [&](int steps_to_run, const std::set<int>& events) {
    RunOptions o = base;
    o.stop_at_first = false;
    o.only_steps = steps_to_run;
    o.only = &events;
    Outcome r = Runner(fleet, o).Run(steps);
    return r.by_kind.contains(v.kind);
  };
  const std::vector<int> ids(kept.rbegin(), kept.rend());
  for (int id : ids) {
    if (!kept.contains(id)) continue;
    std::set<int> without = kept;
    without.erase(id);
    if (fails(n, without)) kept = std::move(without);
  }
  // The failure may now come earlier.
  while (n > 1 && fails(n - 1, kept)) --n;
  std::set<int> in_time;
  for (int id : within(n)) {
    if (kept.contains(id)) in_time.insert(id);
  }
  return {n, in_time};
}

void PrintScenario(uint64_t seed, const Fleet& fleet, const std::vector<Step>& steps, int n,
                   const std::set<int>& kept, const RunOptions& base, const Violation& v,
                   int original_steps, size_t original_events) {
  std::printf("==== fleet seed %llu: violation (%s) at step %d: %s\n",
              static_cast<unsigned long long>(seed), v.kind.c_str(), v.step, v.message.c_str());
  std::printf("---- fleet (YAML)\n%s", fleet.yaml.c_str());
  std::printf("---- schedule, minimized from %d steps and %zu events to %d steps and %zu events\n",
              original_steps, original_events, n, kept.size());
  int t = 0;
  for (int i = 0; i < n; ++i) {
    const Step& s = steps[static_cast<size_t>(i)];
    t += s.dt_seconds;
    std::vector<std::string> what;
    for (const Event& e : s.events) {
      if (kept.contains(e.id)) what.push_back(absl::StrCat("#", e.id, " ", Describe(fleet, e)));
    }
    std::printf("step %2d  t=%4ds (+%2ds): %s\n", i + 1, t, s.dt_seconds,
                what.empty() ? "-" : absl::StrJoin(what, "; ").c_str());
  }
  RunOptions o = base;
  o.stop_at_first = false;
  o.trace = true;
  o.only_steps = n;
  o.only = &kept;
  Outcome replay = Runner(fleet, o).Run(steps);
  std::printf("---- plans (ground truth, decisions [reasons], DNS answers)\n%s",
              replay.trace.c_str());
  if (replay.first.has_value()) {
    std::printf("---- minimized: violation (%s) at step %d: %s\n", replay.first->kind.c_str(),
                replay.first->step, replay.first->message.c_str());
  }
  std::printf("---- replay: governor_sim --seed %llu --fleets 1%s --steps %d --events %s\n",
              static_cast<unsigned long long>(seed), base.governor ? "" : " --governor off", n,
              kept.empty() ? "none" : absl::StrJoin(kept, ",").c_str());
  std::printf("----        (the whole schedule: governor_sim --seed %llu --fleets 1%s)\n",
              static_cast<unsigned long long>(seed), base.governor ? "" : " --governor off");
}

int Main(const Options& opt) {
  const auto start = std::chrono::steady_clock::now();
  long long steps_run = 0;
  int failing_fleets = 0;
  int fleets_with_a = 0;
  long long a_violations = 0;
  long long blackholes = 0;
  int fleets_blackholed = 0;
  std::map<std::string, int> by_kind;
  int printed = 0;
  for (int i = 0; i < opt.fleets; ++i) {
    const uint64_t seed = opt.seed + static_cast<uint64_t>(i);
    Rng rng(seed);
    const Fleet fleet = MakeFleet(seed, rng);
    const std::vector<Step> steps = RandomSchedule(rng, fleet, opt.min_steps, opt.max_steps);
    RunOptions ro;
    ro.governor = opt.governor;
    ro.stop_at_first = opt.governor;
    ro.only_steps = opt.only_steps;
    ro.only = opt.only_events.has_value() ? &*opt.only_events : nullptr;
    const Outcome out = Runner(fleet, ro).Run(steps);
    steps_run += out.steps;
    for (const auto& [kind, count] : out.by_kind) by_kind[kind] += count;
    a_violations += out.a_violations;
    blackholes += out.blackholes;
    if (out.blackholes > 0) ++fleets_blackholed;
    if (out.a_violations > 0) ++fleets_with_a;
    if (!out.first.has_value()) continue;
    ++failing_fleets;
    // With the governor on every failure is printed (up to 3); off, one example of (a).
    const bool show = opt.governor ? printed < 3 : (printed < 1 && out.a_violations > 0);
    if (!show && opt.governor && !opt.quiet && failing_fleets <= 20) {
      std::printf("==== fleet seed %llu: violation (%s) at step %d: %s\n",
                  static_cast<unsigned long long>(seed), out.first->kind.c_str(), out.first->step,
                  out.first->message.c_str());
    }
    if (show && !opt.quiet) {
      ++printed;
      // Off, the example is the first break of the invariant itself.
      const Violation v = opt.governor ? *out.first : out.first_of.at("a");
      size_t events = 0;
      for (const Step& s : steps) {
        for (const Event& e : s.events) {
          if (ro.only == nullptr || ro.only->contains(e.id)) ++events;
        }
      }
      const auto [n, kept] = Minimize(fleet, steps, ro, v);
      PrintScenario(seed, fleet, steps, n, kept, ro, v, out.steps, events);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string kinds;
  for (const auto& [kind, count] : by_kind) absl::StrAppend(&kinds, " ", kind, "=", count);
  std::printf(
      "governor_sim: governor %s, seeds %llu..%llu: %d fleets, %lld steps, %.1f s; %d fleets "
      "with a violation; invariant (a) broken in %d fleets, %lld times (a prefix left to no able "
      "POP: %d fleets, %lld times);%s%s\n",
      opt.governor ? "on" : "off", static_cast<unsigned long long>(opt.seed),
      static_cast<unsigned long long>(opt.seed + static_cast<uint64_t>(opt.fleets) - 1), opt.fleets,
      steps_run, seconds, failing_fleets, fleets_with_a, a_violations, fleets_blackholed,
      blackholes, kinds.empty() ? " no check failed" : " by check:", kinds.c_str());
  if (opt.expect_violations) {
    if (fleets_with_a == 0) {
      std::printf("governor_sim: FAIL: expected the invariant to break without the governor\n");
      return 1;
    }
    std::printf("governor_sim: ok: without the governor the invariant breaks\n");
    return 0;
  }
  if (failing_fleets > 0) {
    std::printf("governor_sim: FAIL\n");
    return 1;
  }
  std::printf("governor_sim: ok\n");
  return 0;
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "governor_sim: %s\nusage: governor_sim [--seed N] [--fleets N] [--governor on|off] "
               "[--expect-violations] [--min-steps N] [--max-steps N] [--steps N] "
               "[--events I,J,...|none] [--quiet]\n",
               why);
  return 2;
}

}  // namespace
}  // namespace holdfast::sim

int main(int argc, char** argv) {
  using holdfast::sim::Usage;
  holdfast::sim::Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto number = [&](auto& out) {
      const char* v = value();
      return v != nullptr && absl::SimpleAtoi(v, &out);
    };
    if (arg == "--seed") {
      if (!number(opt.seed)) return Usage("--seed needs a number");
    } else if (arg == "--fleets") {
      if (!number(opt.fleets) || opt.fleets < 1) return Usage("--fleets needs a number >= 1");
    } else if (arg == "--min-steps") {
      if (!number(opt.min_steps) || opt.min_steps < 1) return Usage("--min-steps needs N >= 1");
    } else if (arg == "--max-steps") {
      if (!number(opt.max_steps) || opt.max_steps < 1) return Usage("--max-steps needs N >= 1");
    } else if (arg == "--steps") {
      if (!number(opt.only_steps) || opt.only_steps < 0) return Usage("--steps needs N >= 0");
    } else if (arg == "--events") {
      const char* v = value();
      if (v == nullptr) return Usage("--events needs a list");
      opt.only_events.emplace();
      if (std::strcmp(v, "none") != 0) {
        for (absl::string_view part : absl::StrSplit(v, ',')) {
          int id = 0;
          if (!absl::SimpleAtoi(part, &id)) return Usage("--events needs numbers, comma separated");
          opt.only_events->insert(id);
        }
      }
    } else if (arg == "--governor") {
      const char* v = value();
      if (v == nullptr || (std::strcmp(v, "on") != 0 && std::strcmp(v, "off") != 0)) {
        return Usage("--governor is on or off");
      }
      opt.governor = std::strcmp(v, "on") == 0;
    } else if (arg == "--expect-violations") {
      opt.expect_violations = true;
    } else if (arg == "--quiet") {
      opt.quiet = true;
    } else {
      return Usage(absl::StrCat("unknown argument '", arg, "'").c_str());
    }
  }
  if (opt.min_steps > opt.max_steps) return Usage("--min-steps is above --max-steps");
  return holdfast::sim::Main(opt);
}
