#include "policy/plan/planner.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "policy/safety/floor.h"

namespace holdfast::policy {
namespace {

using Decision = v1::Plan::PopDecision;

// What the reports say about one POP.
enum class Health {
  kHealthy,
  kBackends,  // serving, but too few healthy backend endpoints
  kStale,     // no fresh report from any node
  kUnknown,   // no fresh report yet, and the caller has not observed for stale_after
  kBroken,    // fresh reports, and no node's listeners are up
};

struct PopState {
  const v1::Pop* pop = nullptr;
  Health health = Health::kHealthy;
  // A node with a fresh report has its listeners up, is not draining and has a BGP session
  // established (a POP that announces has peers: the validator sees to it): the POP can serve,
  // and a router hears it.
  bool able = false;
  // Nodes serve, but no router hears any of them (every BGP session down): whatever the plan
  // says, the POP announces nothing, so it counts for no floor and DNS does not hand it out.
  bool unheard = false;
  // Healthy share of the backend endpoints its serving nodes see (1 when they see none).
  double capacity = 1;
  std::string why;  // what is wrong, for reasons
  std::string unheard_why;
  // Serving nodes refusing load now, for reasons: never a reason to withdraw.
  std::string overload;
  // Exempt from health-driven withdrawal: a shared fault (most POPs report the same).
  bool shared_fault = false;
  v1::Plan::PopMemory memory;
  // Removed by an accepted operator intent, per prefix name ("" = every prefix).
  absl::flat_hash_map<std::string, v1::OperatorIntent::Action> removed;
  // The POP's announcements and this plan's decisions, by prefix name.
  absl::flat_hash_map<std::string, const v1::Announcement*> announce;
  absl::flat_hash_map<std::string, const Decision*> decisions;

  // Unknown is not unhealthy: no evidence either way.
  bool unhealthy() const { return health != Health::kHealthy && health != Health::kUnknown; }
  // The POP's operator action for `prefix`, if any.
  const v1::OperatorIntent::Action* RemovedFor(const std::string& prefix) const {
    if (auto it = removed.find(prefix); it != removed.end()) return &it->second;
    if (auto it = removed.find(""); it != removed.end()) return &it->second;
    return nullptr;
  }
};

// A router hears the node: one of its BGP sessions is established.
bool Heard(const v1::HealthReport& r) {
  return std::any_of(r.bgp_sessions().begin(), r.bgp_sessions().end(),
                     [](const v1::BgpSession& s) { return s.state() == "established"; });
}

// Best first: able to serve, then more healthy capacity, then configured preference, then name.
bool RanksBefore(const PopState& a, const PopState& b) {
  return std::make_tuple(!a.able, -a.capacity, a.pop->preference(), a.pop->name()) <
         std::make_tuple(!b.able, -b.capacity, b.pop->preference(), b.pop->name());
}

class Planner {
 public:
  Planner(const PlanInput& in, const PlannerOptions& options)
      : in_(in), c_(*in.config), options_(options), health_(c_.safety().health()) {}

  v1::Plan Run() {
    *plan_.mutable_at() = ToProtoTimestamp(in_.now);
    Observe();
    Remember();
    ApplyIntents();
    DecideHealthWithdrawals();
    for (const v1::Prefix& prefix : c_.prefixes()) PlanPrefix(prefix);
    for (const v1::ServiceName& service : c_.dns().services()) PlanService(service);
    for (const PopState& p : pops_) *plan_.add_memory() = p.memory;
    return std::move(plan_);
  }

 private:
  // ---- what the reports say -----------------------------------------------------------------

  void Observe() {
    // The newest report of each node, by when it was received: the node's own `at` is its
    // clock, and one dated an hour ahead (a skewed clock, or a forger) would otherwise stay
    // newest, and fresh, for that hour after the node fell silent (issue 24).
    absl::flat_hash_map<std::string, const v1::HealthReport*> newest;
    for (const v1::HealthReport& r : in_.reports) {
      if (!r.has_received_at()) continue;  // never received: nothing to judge it by
      auto [it, inserted] = newest.try_emplace(r.node(), &r);
      if (!inserted && FromProtoTime(r.received_at()) > FromProtoTime(it->second->received_at())) {
        it->second = &r;
      }
    }
    const absl::Duration stale_after = FromProtoDuration(health_.stale_after());
    for (const v1::Pop& pop : c_.pops()) {
      PopState p;
      p.pop = &pop;
      for (const v1::Announcement& an : pop.announce()) {
        p.announce.try_emplace(an.prefix(), &an);
        ++eligible_[an.prefix()];
      }
      int fresh = 0;
      int draining = 0;
      int listening = 0;
      int sessions = 0;
      uint64_t healthy = 0;
      uint64_t total = 0;
      for (const v1::Node& node : pop.nodes()) {
        auto it = newest.find(node.name());
        if (it == newest.end() || it->second->pop() != pop.name()) continue;
        const v1::HealthReport& r = *it->second;
        if (in_.now - FromProtoTime(r.received_at()) > stale_after) continue;
        ++fresh;
        // A draining node is leaving: it serves what it has in flight and wants nothing new.
        if (r.draining()) ++draining;
        if (!r.listeners_up() || r.draining()) continue;
        ++listening;
        sessions += r.bgp_sessions_size();
        if (Heard(r)) p.able = true;
        for (const v1::ClusterHealth& ch : r.clusters()) {
          if (ch.overloaded()) {
            const double offered = ch.drained_per_second() + ch.refused_per_second();
            absl::StrAppend(
                &p.overload, p.overload.empty() ? "" : ", ",
                absl::StrFormat(
                    "%s on %s refusing %d%% of %.0f requests/s", ch.cluster(), r.node(),
                    static_cast<int>(100 * ch.refused_per_second() / std::max(offered, 1.0)),
                    offered));
          }
          // Capacity by weight where the node reports it, else by endpoint count. Either covers
          // the endpoints the node prefers: its own POP's, with locality.
          const bool weighted = ch.total_weight() > 0;
          const uint64_t of = weighted ? ch.total_weight() : ch.total_endpoints();
          healthy +=
              std::min<uint64_t>(weighted ? ch.healthy_weight() : ch.healthy_endpoints(), of);
          total += of;
        }
      }
      p.capacity = total == 0 ? 1.0 : static_cast<double>(healthy) / static_cast<double>(total);
      if (fresh == 0 && in_.now - in_.observing_since < stale_after) {
        p.health = Health::kUnknown;
        p.why = absl::StrCat("no report yet: reports observed for ",
                             absl::FormatDuration(in_.now - in_.observing_since), " of ",
                             absl::FormatDuration(stale_after));
      } else if (fresh == 0) {
        p.health = Health::kStale;
        p.why = absl::StrCat("no report for more than ", absl::FormatDuration(stale_after));
      } else if (listening == 0) {
        p.health = Health::kBroken;
        p.why = draining == fresh ? "every node is draining"
                : draining > 0    ? "listeners down or draining on every node"
                                  : "listeners down on every node";
      } else if (p.capacity < health_.min_healthy_fraction()) {
        p.health = Health::kBackends;
        p.why = absl::StrFormat("%d%% of backend endpoints healthy, below %d%%",
                                static_cast<int>(p.capacity * 100),
                                static_cast<int>(health_.min_healthy_fraction() * 100));
      }
      if (listening > 0 && !p.able) {
        p.unheard = true;
        p.unheard_why = absl::StrFormat(
            "not heard by its routers: no BGP session established on its %d serving node%s "
            "(%d session%s reported)",
            listening, listening == 1 ? "" : "s", sessions, sessions == 1 ? "" : "s");
      }
      pops_.push_back(std::move(p));
    }
    if (!options_.governor) return;

    // Attribution: POPs that serve but cannot reach their backends, when most reporting POPs
    // say the same, see a fault they share (the 2021 case), not one of their own.
    int reporting = 0;
    int backends = 0;
    for (const PopState& p : pops_) {
      if (p.health != Health::kStale && p.health != Health::kUnknown) ++reporting;
      if (p.health == Health::kBackends) ++backends;
    }
    if (backends > 0 && backends > health_.shared_fault_fraction() * reporting) {
      for (PopState& p : pops_) {
        if (p.health != Health::kBackends) continue;
        p.shared_fault = true;
        absl::StrAppend(&p.why, absl::StrFormat("; shared fault: %d of %d reporting POPs say so",
                                                backends, reporting));
      }
    }
  }

  // Streaks and spells, from the previous plan's memory.
  void Remember() {
    absl::flat_hash_map<std::string, const v1::Plan::PopMemory*> before;
    if (in_.previous != nullptr) {
      for (const auto& m : in_.previous->memory()) before[m.pop()] = &m;
    }
    for (PopState& p : pops_) {
      if (auto it = before.find(p.pop->name()); it != before.end()) p.memory = *it->second;
      p.memory.set_pop(p.pop->name());
      if (p.health == Health::kUnknown) continue;  // no evidence: the streaks stand still
      if (p.unhealthy()) {
        p.memory.set_unhealthy_streak(p.memory.unhealthy_streak() + 1);
        p.memory.set_healthy_streak(0);
        if (!p.memory.has_unhealthy_since())
          *p.memory.mutable_unhealthy_since() = ToProtoTimestamp(in_.now);
      } else {
        p.memory.set_healthy_streak(p.memory.healthy_streak() + 1);
        p.memory.set_unhealthy_streak(0);
        p.memory.clear_unhealthy_since();
      }
    }
  }

  PopState* Find(const std::string& pop) {
    for (PopState& p : pops_) {
      if (p.pop->name() == pop) return &p;
    }
    return nullptr;
  }

  // ---- operator intents ---------------------------------------------------------------------

  // POPs that can carry `prefix` whatever health says: able, and not removed by an operator.
  std::vector<const PopState*> Available(const std::string& prefix) const {
    std::vector<const PopState*> out;
    for (const PopState& p : pops_) {
      if (!Announces(p, prefix) || !p.able || p.RemovedFor(prefix) != nullptr) continue;
      out.push_back(&p);
    }
    return out;
  }

  static const v1::Announcement* Announcement(const PopState& p, const std::string& prefix) {
    auto it = p.announce.find(prefix);
    return it == p.announce.end() ? nullptr : it->second;
  }
  static bool Announces(const PopState& p, const std::string& prefix) {
    return p.announce.contains(prefix);
  }

  static bool HasVips(const PopState& p, const v1::ServiceName& service) {
    for (const std::string& prefix : service.prefixes()) {
      const v1::Announcement* an = Announcement(p, prefix);
      if (an != nullptr && !an->vips().empty()) return true;
    }
    return false;
  }

  // `p` can answer for `service`: able, with VIPs in one of its prefixes that no operator took
  // out, counting `removing_prefix` of `removing` ("" = all its prefixes) as taken out too.
  static bool Serves(const PopState& p, const v1::ServiceName& service, const PopState* removing,
                     const std::string& removing_prefix) {
    if (!p.able) return false;
    for (const std::string& prefix : service.prefixes()) {
      const v1::Announcement* an = Announcement(p, prefix);
      if (an == nullptr || an->vips().empty() || p.RemovedFor(prefix) != nullptr) continue;
      if (&p == removing && (removing_prefix.empty() || removing_prefix == prefix)) continue;
      return true;
    }
    return false;
  }

  uint32_t PrefixFloorCount(const v1::Prefix& prefix) const {
    auto it = eligible_.find(prefix.name());
    return FloorCount(PrefixFloor(c_, prefix), it == eligible_.end() ? 0 : it->second);
  }

  void ApplyIntents() {
    if (in_.previous != nullptr) {
      frozen_ = in_.previous->frozen();
      freeze_evidence_ = in_.previous->freeze_evidence();
      freeze_acknowledged_ = in_.previous->freeze_acknowledged();
      if (in_.previous->has_freeze_since())
        freeze_since_ = FromProtoTime(in_.previous->freeze_since());
    }
    for (const v1::OperatorIntent& intent : in_.intents) {
      v1::Plan::IntentOutcome* out = plan_.add_intents();
      *out->mutable_intent() = intent;
      if (intent.action() == v1::OperatorIntent::ACTION_ACK_FREEZE) {
        // An acknowledgement covers the freeze in force when it was given, not a later one.
        const bool covers =
            frozen_ && (!intent.has_at() || FromProtoTime(intent.at()) >= freeze_since_);
        out->set_applied(covers);
        out->set_explanation(covers ? "freeze acknowledged: health-driven withdrawals resume"
                                    : "nothing frozen that this acknowledgement covers");
        acknowledged_ = acknowledged_ || covers;
        continue;
      }
      PopState* p = Find(intent.pop());
      if (p == nullptr || (intent.action() != v1::OperatorIntent::ACTION_DRAIN &&
                           intent.action() != v1::OperatorIntent::ACTION_WITHDRAW)) {
        out->set_applied(false);
        out->set_explanation(p == nullptr
                                 ? absl::StrCat("refused: no POP named '", intent.pop(), "'")
                                 : "refused: unknown action");
        continue;
      }
      const char* verb =
          intent.action() == v1::OperatorIntent::ACTION_DRAIN ? "drain" : "withdrawal";
      // Each prefix the intent takes away must keep its floor among the POPs left.
      std::string broken_floor;
      if (options_.governor) {
        for (const v1::Prefix& prefix : c_.prefixes()) {
          if (!intent.prefix().empty() && intent.prefix() != prefix.name()) continue;
          if (!Announces(*p, prefix.name())) continue;
          const std::vector<const PopState*> available = Available(prefix.name());
          const bool counted = std::find(available.begin(), available.end(), p) != available.end();
          const size_t left = available.size() - (counted ? 1 : 0);
          const uint32_t floor = PrefixFloorCount(prefix);
          if (left < floor) {
            broken_floor = absl::StrFormat("%s of %s would leave %d of required %d for prefix %s",
                                           verb, p->pop->name(), left, floor, prefix.name());
            break;
          }
        }
        // And each service name it takes VIPs from must keep its own floor of POPs to answer.
        for (const v1::ServiceName& service : c_.dns().services()) {
          if (!broken_floor.empty() || !Serves(*p, service, nullptr, "")) continue;
          uint32_t eligible = 0;
          size_t left = 0;
          for (const PopState& q : pops_) {
            eligible += HasVips(q, service) ? 1 : 0;
            left += Serves(q, service, p, intent.prefix()) ? 1 : 0;
          }
          const uint32_t floor = FloorCount(ServiceFloor(c_, service), eligible);
          if (left < floor) {
            broken_floor =
                absl::StrFormat("%s of %s would leave %d of required %d POPs answering for %s",
                                verb, p->pop->name(), left, floor, service.name());
          }
        }
      }
      if (!broken_floor.empty() && !intent.break_glass()) {
        out->set_applied(false);
        out->set_explanation(absl::StrCat("refused: ", broken_floor));
        continue;
      }
      p->removed[intent.prefix()] = intent.action();
      out->set_applied(true);
      if (broken_floor.empty()) {
        out->set_explanation(absl::StrCat(verb, " applied"));
      } else {
        out->set_explanation(absl::StrCat("applied by break-glass: ", broken_floor));
        AddAlarm("break_glass",
                 absl::StrCat(broken_floor, "; by ", intent.author(), ": ", intent.reason()));
      }
    }
  }

  // ---- health-driven withdrawals ------------------------------------------------------------

  void DecideHealthWithdrawals() {
    if (!options_.governor) {
      for (PopState& p : pops_) p.memory.set_health_withdrawn(p.unhealthy());
      return;
    }

    // Correlation: many POPs turning unhealthy within one window is evidence about the
    // observer, not about every POP: freeze instead of withdrawing them all.
    const v1::CorrelatedFailure& cf = c_.safety().correlated_failure();
    const double limit = cf.fraction() * static_cast<double>(pops_.size());
    int recent = 0;
    int unhealthy = 0;
    for (const PopState& p : pops_) {
      if (!p.unhealthy()) continue;
      ++unhealthy;
      if (in_.now - FromProtoTime(p.memory.unhealthy_since()) <= FromProtoDuration(cf.window()))
        ++recent;
    }
    if (unhealthy <= limit) {
      // Health recovered: the spell is over, and so is its freeze or acknowledgement.
      frozen_ = false;
      freeze_acknowledged_ = false;
      freeze_evidence_.clear();
    } else if (frozen_ && acknowledged_) {
      // Acknowledged: withdrawals resume, and this spell freezes nothing again.
      frozen_ = false;
      freeze_acknowledged_ = true;
    } else if (!frozen_ && !freeze_acknowledged_ && recent > limit && recent > 1) {
      // One POP failing is that POP's fault, whatever the fraction says: in a fleet of three,
      // 30% would otherwise freeze the withdrawal of the first broken POP.
      frozen_ = true;
      freeze_since_ = in_.now;
      freeze_evidence_ = absl::StrFormat(
          "correlated failure: %d of %d POPs unhealthy within %s (more than %g%% of the POPs, "
          "and more than one)",
          recent, pops_.size(), absl::FormatDuration(FromProtoDuration(cf.window())),
          cf.fraction() * 100);
    }
    plan_.set_frozen(frozen_);
    plan_.set_freeze_evidence(freeze_evidence_);
    plan_.set_freeze_acknowledged(freeze_acknowledged_);
    if (frozen_ || freeze_acknowledged_)
      *plan_.mutable_freeze_since() = ToProtoTimestamp(freeze_since_);
    if (frozen_) AddAlarm("correlated_failure", absl::StrCat("frozen: ", freeze_evidence_));

    // Returns: a withdrawn POP comes back after restore_after healthy plans.
    std::vector<PopState*> candidates;
    for (PopState& p : pops_) {
      if (p.memory.health_withdrawn()) {
        if (!p.unhealthy() && p.memory.healthy_streak() >= health_.restore_after()) {
          p.memory.set_health_withdrawn(false);
        }
        continue;
      }
      if (p.health == Health::kBroken) {
        // It cannot serve: it goes at once, past the rate limit, and comes back only after
        // restore_after healthy plans, so flapping listeners do not flap its routes.
        p.memory.set_health_withdrawn(true);
        continue;
      }
      if (p.unhealthy() && !p.shared_fault &&
          p.memory.unhealthy_streak() >= health_.withdraw_after()) {
        candidates.push_back(&p);
      }
    }

    // Rate: at most max_withdrawals new health-driven withdrawals per window, worst first.
    const absl::Duration window = FromProtoDuration(c_.safety().withdrawal_rate().window());
    int recent_withdrawals = 0;
    if (in_.previous != nullptr) {
      for (const auto& t : in_.previous->withdrawals()) {
        if (in_.now - FromProtoTime(t) < window) {
          *plan_.add_withdrawals() = t;
          ++recent_withdrawals;
        }
      }
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const PopState* a, const PopState* b) { return RanksBefore(*b, *a); });
    int allowed =
        static_cast<int>(c_.safety().withdrawal_rate().max_withdrawals()) - recent_withdrawals;
    for (PopState* p : candidates) {
      if (frozen_) {
        held_[p->pop->name()] = absl::StrCat("frozen: ", freeze_evidence_);
      } else if (allowed <= 0) {
        held_[p->pop->name()] = absl::StrFormat(
            "held: rate limit of %d health-driven withdrawals per %s reached",
            c_.safety().withdrawal_rate().max_withdrawals(), absl::FormatDuration(window));
      } else {
        --allowed;
        p->memory.set_health_withdrawn(true);
        *plan_.add_withdrawals() = ToProtoTimestamp(in_.now);
      }
    }
  }

  // ---- per prefix ---------------------------------------------------------------------------

  void PlanPrefix(const v1::Prefix& prefix) {
    v1::Plan::PrefixPlan* pp = plan_.add_prefixes();
    pp->set_prefix(prefix.name());
    const uint32_t floor = options_.governor ? PrefixFloorCount(prefix) : 0;
    pp->set_floor(floor);
    const bool deprefer = prefix.on_unhealthy().kind() == v1::UnhealthyAction::KIND_DEPREFER;

    struct Entry {
      PopState* state;
      Decision* decision;
      bool health_withdrawn;  // withdrawn by health alone: the floor may bring it back
    };
    std::vector<Entry> entries;
    for (PopState& p : pops_) {
      if (!Announces(p, prefix.name())) continue;
      Decision* d = pp->add_pops();
      p.decisions[prefix.name()] = d;  // elements of a repeated field do not move
      d->set_pop(p.pop->name());
      Entry e{&p, d, false};
      if (const auto* action = p.RemovedFor(prefix.name())) {
        const bool drain = *action == v1::OperatorIntent::ACTION_DRAIN;
        d->set_state(drain ? v1::Plan::DRAINING : v1::Plan::WITHDRAWN);
        d->set_reason(drain ? "draining: operator intent" : "withdrawn: operator intent");
      } else if (p.health == Health::kBroken) {
        d->set_state(v1::Plan::WITHDRAWN);
        d->set_reason(absl::StrCat("withdrawn: cannot serve (", p.why, ")"));
      } else if (p.memory.health_withdrawn()) {
        e.health_withdrawn = true;
        const std::string why =
            p.unhealthy()
                ? absl::StrFormat("unhealthy %d reports: %s", p.memory.unhealthy_streak(), p.why)
                : absl::StrFormat("recovering, %d of %d healthy reports", p.memory.healthy_streak(),
                                  health_.restore_after());
        if (deprefer) {
          d->set_state(v1::Plan::ANNOUNCED);
          d->set_depreferred(true);
          d->set_as_path_prepend(prefix.on_unhealthy().as_path_prepend());
          d->set_reason(absl::StrCat("depreferred: ", why));
        } else {
          d->set_state(v1::Plan::WITHDRAWN);
          d->set_reason(absl::StrCat("withdrawn: ", why));
        }
      } else {
        d->set_state(v1::Plan::ANNOUNCED);
        if (auto it = held_.find(p.pop->name()); it != held_.end()) {
          d->set_reason(absl::StrCat("unhealthy (", p.why, "); ", it->second));
        } else if (p.unhealthy()) {
          d->set_reason(
              absl::StrCat("unhealthy (", p.why, ")", p.shared_fault ? "" : "; not yet withdrawn"));
        } else if (p.health == Health::kUnknown) {
          d->set_reason(absl::StrCat("unknown (", p.why, ")"));
        } else {
          d->set_reason("healthy");
        }
      }
      if (p.unheard && d->state() == v1::Plan::ANNOUNCED) {
        d->set_reason(absl::StrCat(d->reason(), "; ", p.unheard_why, ", so not counted"));
      }
      if (!p.overload.empty() && d->state() != v1::Plan::WITHDRAWN) {
        d->set_reason(absl::StrCat(d->reason(), "; overloaded (", p.overload,
                                   "), serving what it can: load is never a reason to withdraw"));
      }
      entries.push_back(e);
    }

    auto announcing = [&] {
      uint32_t n = 0;
      for (const Entry& e : entries) {
        n += e.decision->state() == v1::Plan::ANNOUNCED && e.state->able ? 1 : 0;
      }
      return n;
    };

    // The floor: bring back health-withdrawn POPs, best first; those able to serve count, the
    // others (no fresh report) are brought back too if that is all there is (fail open).
    uint32_t count = announcing();
    if (count < floor) {
      std::vector<Entry*> back;
      for (Entry& e : entries) {
        if (e.health_withdrawn && e.decision->state() == v1::Plan::WITHDRAWN) back.push_back(&e);
      }
      std::sort(back.begin(), back.end(),
                [](const Entry* a, const Entry* b) { return RanksBefore(*a->state, *b->state); });
      uint32_t restored_blind = 0;
      for (Entry* e : back) {
        if (count >= floor) break;
        if (!e->state->able && count + restored_blind >= floor) break;
        e->decision->set_state(v1::Plan::ANNOUNCED);
        e->decision->set_reason(
            absl::StrFormat("kept by floor (%d required): %s", floor, e->decision->reason()));
        if (e->state->able) {
          ++count;
        } else {
          ++restored_blind;
        }
      }
    }
    pp->set_announcing(count);
    for (const Entry& e : entries) {
      if (e.decision->state() == v1::Plan::ANNOUNCED) {
        announced_.insert(prefix.name());
        break;
      }
    }
    if (count < floor) {
      AddAlarm("floor_unmet", absl::StrFormat("prefix %s: %d of required %d POPs can announce",
                                              prefix.name(), count, floor));
    }
  }

  // ---- per service name ---------------------------------------------------------------------

  static const Decision* DecisionFor(const PopState& p, const std::string& prefix) {
    auto it = p.decisions.find(prefix);
    return it == p.decisions.end() ? nullptr : it->second;
  }

  // DNS agrees with BGP: a POP its routers see de-preferred gets the configured share of its
  // weight.
  uint32_t AnswerWeight(const PopState& p, const std::string& prefix, const Decision& d) const {
    const uint32_t full = p.pop->capacity_weight();
    if (!d.depreferred()) return full;
    for (const v1::Prefix& pr : c_.prefixes()) {
      if (pr.name() != prefix) continue;
      return static_cast<uint32_t>(std::ceil(full * pr.on_unhealthy().dns_weight_fraction()));
    }
    return full;
  }

  bool AnnouncedAnywhere(const std::string& prefix) const { return announced_.contains(prefix); }

  void PlanService(const v1::ServiceName& service) {
    v1::Plan::ServicePlan* sp = plan_.add_services();
    sp->set_name(service.name());
    std::vector<const PopState*> eligible;
    absl::flat_hash_set<const PopState*> answering;
    std::vector<const PopState*> spare;
    bool unheard_announced = false;  // a POP the plan announces has VIPs no router hears
    for (const PopState& p : pops_) {
      bool has_vips = false;
      bool answered = false;
      for (const std::string& prefix : service.prefixes()) {
        const v1::Announcement* an = Announcement(p, prefix);
        if (an == nullptr || an->vips().empty()) continue;
        has_vips = true;
        const Decision* d = DecisionFor(p, prefix);
        if (d == nullptr) continue;
        // A POP no router hears would take no traffic for its VIPs: not handed out, unless
        // the floor needs it below.
        if ((d->state() == v1::Plan::ANNOUNCED && !p.unheard) || d->state() == v1::Plan::DRAINING) {
          const bool draining = d->state() == v1::Plan::DRAINING;
          for (const std::string& vip : an->vips()) {
            v1::Plan::Answer* a = sp->add_answers();
            a->set_pop(p.pop->name());
            a->set_address(vip);
            a->set_weight(draining ? 0 : AnswerWeight(p, prefix, *d));
            a->set_reason(draining ? "draining" : d->reason());
          }
          answered = answered || !draining;
        } else if (d->state() == v1::Plan::ANNOUNCED) {
          unheard_announced = true;
        }
      }
      if (!has_vips) continue;
      eligible.push_back(&p);
      if (answered) {
        answering.insert(&p);
      } else {
        spare.push_back(&p);
      }
    }
    const uint32_t floor = options_.governor ? FloorCount(ServiceFloor(c_, service),
                                                          static_cast<uint32_t>(eligible.size()))
                                             : 0;
    sp->set_floor(floor);
    // Never empty while the plan announces a prefix of the name: with no POP heard at all, the
    // reports may be what is wrong, so the best one is handed out (fail open).
    const uint32_t need = answering.empty() && unheard_announced ? std::max(floor, 1u) : floor;
    // The floor in DNS: more POPs' VIPs, as long as their prefix is announced somewhere (a VIP
    // of a prefix withdrawn everywhere would be a blackhole of our own making). Never a POP an
    // operator took out.
    std::sort(spare.begin(), spare.end(),
              [](const PopState* a, const PopState* b) { return RanksBefore(*a, *b); });
    // Two passes: first POPs no operator took out; then, as a last resort (a DNS answer is
    // never empty while the prefix is announced somewhere), the others too, since anycast
    // carries their VIPs to whichever POP announces the prefix.
    for (const bool last_resort : {false, true}) {
      for (const PopState* p : spare) {
        if (answering.size() >= need) break;
        if (answering.contains(p)) continue;
        bool added = false;
        for (const std::string& prefix : service.prefixes()) {
          const v1::Announcement* an = Announcement(*p, prefix);
          if (an == nullptr || an->vips().empty() || !AnnouncedAnywhere(prefix) ||
              (p->RemovedFor(prefix) != nullptr) != last_resort) {
            continue;
          }
          // A draining POP's VIPs are listed already, with weight zero.
          const Decision* d = DecisionFor(*p, prefix);
          if (d != nullptr && d->state() == v1::Plan::DRAINING) continue;
          for (const std::string& vip : an->vips()) {
            v1::Plan::Answer* a = sp->add_answers();
            a->set_pop(p->pop->name());
            a->set_address(vip);
            a->set_weight(p->pop->capacity_weight());
            a->set_reason(
                need > floor
                    ? std::string("no POP answering for the name is heard by its routers: "
                                  "handed out anyway (fail open)")
                    : absl::StrFormat(
                          "kept by floor (%d required)%s; prefix %s announced elsewhere", floor,
                          last_resort ? ", last resort: taken out by an operator" : "", prefix));
          }
          added = true;
        }
        if (added) answering.insert(p);
      }
    }
  }

  void AddAlarm(std::string kind, std::string message) {
    v1::Plan::Alarm* a = plan_.add_alarms();
    a->set_kind(std::move(kind));
    a->set_message(std::move(message));
  }

  const PlanInput& in_;
  const v1::Config& c_;
  const PlannerOptions& options_;
  const v1::HealthPolicy& health_;
  v1::Plan plan_;
  std::vector<PopState> pops_;
  bool frozen_ = false;
  bool freeze_acknowledged_ = false;  // this spell was acknowledged (carried between plans)
  absl::Time freeze_since_ = absl::InfinitePast();
  bool acknowledged_ = false;  // an ACK_FREEZE of this plan covers the freeze in force
  std::string freeze_evidence_;
  // Prefix name -> POPs configured to announce it.
  absl::flat_hash_map<std::string, uint32_t> eligible_;
  // Prefixes some POP announces in this plan.
  absl::flat_hash_set<std::string> announced_;
  // POP -> why its due withdrawal is held (freeze, rate limit).
  absl::flat_hash_map<std::string, std::string> held_;
};

}  // namespace

v1::Plan MakePlan(const PlanInput& input, const PlannerOptions& options) {
  return Planner(input, options).Run();
}

bool ReportChanged(const v1::HealthReport& last, const v1::HealthReport& next) {
  if (last.pop() != next.pop() || last.node() != next.node() ||
      last.listeners_up() != next.listeners_up() || last.draining() != next.draining() ||
      last.clusters_size() != next.clusters_size() ||
      last.bgp_sessions_size() != next.bgp_sessions_size()) {
    return true;
  }
  for (int i = 0; i < next.clusters_size(); ++i) {
    const v1::ClusterHealth& a = last.clusters(i);
    const v1::ClusterHealth& b = next.clusters(i);
    if (a.cluster() != b.cluster() || a.healthy_endpoints() != b.healthy_endpoints() ||
        a.total_endpoints() != b.total_endpoints() || a.healthy_weight() != b.healthy_weight() ||
        a.total_weight() != b.total_weight() || a.failing_over() != b.failing_over() ||
        a.overloaded() != b.overloaded()) {
      return true;
    }
  }
  for (int i = 0; i < next.bgp_sessions_size(); ++i) {
    const v1::BgpSession& a = last.bgp_sessions(i);
    const v1::BgpSession& b = next.bgp_sessions(i);
    if (a.peer() != b.peer() || a.state() != b.state() || a.bfd_state() != b.bfd_state()) {
      return true;
    }
  }
  return false;
}

}  // namespace holdfast::policy
