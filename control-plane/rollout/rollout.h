// A staged rollout (DESIGN.md, "A config change travels the same road") as a pure state machine:
// events in (start, an ACK or NACK of a node, a tick with the fleet's health and the plan, an
// operator's rollback, the time), actions out (push the target to these POPs, roll back with this
// reason, done, persist the state). No store, no streams, no clock, no logger: the control plane
// (control-plane/server/control_plane.h) feeds it and executes what it returns.
//
// An apply makes the new version the target; the previous one stays in force for the POPs its
// waves have not reached. The waves come from the target's safety.rollout, resolved to POPs in
// config order (ResolveWaves); without waves, the first POP is the canary, then everyone. A wave
// is done once every connected node of its POPs acknowledged the target, bake_time has passed
// since the later of its start and the last of those ACKs, and no reached POP's health has
// regressed against the baseline taken when the rollout began: healthy endpoint fraction down by
// more than kRegressionTolerance, or listeners down, for at least kRegressionHold. A shorter dip
// holds the wave without rolling back. A POP with nodes connected that have not reported yet
// (the control plane just started: unknown is not unhealthy, and no baseline) is not pushed to
// until they report: its wave waits ("awaiting_health") up to kEvidenceWait, and the POP's
// baseline is taken from that first report. A NACK of the target, a regression held that long, or a
// correlated-failure freeze that began at or after the rollout's start (and is not acknowledged)
// rolls it back; a freeze already in force at the start does not (the change may be the fix). A
// fleet whose first wave already covers every POP (one POP), the first version, and apply with
// all_at_once go to everyone at once, without a rollout.
//
// The state is a v1::RolloutStatus, the record the store keeps: a new control plane resumes from
// it (Resume), and the bake of the wave under way starts again. Only the regression streaks are
// kept in memory (a restart starts them again).
//
// Not thread-safe: one owner calls it (the control plane, under its mutex). Times are the
// caller's wall clock, passed in.
#ifndef HOLDFAST_CONTROL_PLANE_ROLLOUT_ROLLOUT_H_
#define HOLDFAST_CONTROL_PLANE_ROLLOUT_ROLLOUT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "holdfast/v1/config.pb.h"
#include "holdfast/v1/control.pb.h"
#include "holdfast/v1/plan.pb.h"

namespace holdfast::control {

// The waves of `config`'s safety.rollout resolved to POPs, in config order, each "pending". A
// wave names its POPs, or takes the first ceil(fraction * POPs) of the fleet (at least one),
// counted cumulatively; POPs no wave reaches get a last wave of their own ("remaining"), so a
// rollout always ends with everyone on the target. Without waves: "canary" (the first POP), then
// "all". Empty for a config without POPs.
std::vector<v1::RolloutWaveStatus> ResolveWaves(const v1::Config& config);

// What the control plane sees of one POP now, from its connected nodes only.
struct PopView {
  // Some connected node of the POP has reported; the two fields below are meaningful only then.
  bool has_data = false;
  // Healthy endpoints over all endpoints, summed over the reports' clusters; 1 without endpoints.
  double healthy_fraction = 1;
  // Some connected node that reported has its listeners up.
  bool listeners_up = false;
  // The version each connected node of the POP acknowledged last (0: none), reported or not.
  std::vector<uint64_t> acked_versions;
};

struct FleetView {
  // By POP name. A POP without connected nodes may be absent: it has no data, and no one to wait
  // for.
  std::map<std::string, PopView> pops;
  // The plan in force (its freeze and alarms), or null before the first. Not owned; only read
  // during the call.
  const v1::Plan* plan = nullptr;
};

struct RolloutAction {
  enum class Kind : uint8_t {
    // Send `version` to the connected nodes of `pops`, the POPs of wave `wave`, which just
    // started (the target's first push to them). The others keep what VersionFor says.
    kPush,
    // Send `version` to every connected node at once: nothing is staged.
    kPushAll,
    // Store the content of version `version` (the previous one) again as a new version, author
    // holdfast-control with `reason`, push it to every node at once, then call RollbackStored.
    // Until then the rollout stays under way (a store failure is retried by the next tick).
    kRollBack,
    // Persist status() (the store's rollout record); now, in this order among the actions.
    kSave,
    // For the log only: the rollout started (status() has its waves and bake_time).
    kStarted,
    // For the log only: wave `wave` is done.
    kWaveDone,
    // Every wave is done: `version` is in force everywhere; `reason` is the outcome.
    kDone,
  };
  Kind kind = Kind::kSave;
  uint64_t version = 0;
  std::vector<std::string> pops = {};
  std::string wave = {};
  std::string reason = {};
};

class Rollout {
 public:
  // A POP whose healthy endpoint fraction drops by more than this (absolute) since the rollout
  // began has regressed.
  static constexpr double kRegressionTolerance = 0.2;
  // How long a drop must last to count: a node that just loaded a config reports its checked
  // clusters' endpoints as not healthy until their first health check, which takes up to one
  // check interval (5 s by default) plus one report interval (2 s).
  static constexpr absl::Duration kRegressionHold = absl::Seconds(10);
  // How long a wave waits for the first health report of a connected POP it is about to reach
  // (state "awaiting_health"), before it goes on without a baseline for that POP.
  static constexpr absl::Duration kEvidenceWait = absl::Seconds(30);

  // No rollout, none before.
  Rollout() = default;

  // A rollout from the store, as a new control plane finds it. When `saved` is RUNNING and
  // `resumable` (its target is still the version in force and its previous version's content
  // is at hand), it goes on, and the bake of its current wave counts again from `now` (nodes
  // that have not reconnected yet must not be taken for absent ones). When it is RUNNING and not
  // resumable, it ends SUPERSEDED (kSave): guessing would send a version no one chose. Any other
  // record is kept as it is, for status.
  std::vector<RolloutAction> Resume(v1::RolloutStatus saved, bool resumable, absl::Time now);

  // OK when a new version may start (Start); FAILED_PRECONDITION, naming the wave under way,
  // while a rollout is running, unless `all_at_once`. One rollout at a time: a second target
  // would leave the fleet on three versions, and the first's baseline would judge the second.
  [[nodiscard]] absl::Status CanStart(bool all_at_once) const;

  struct StartInput {
    uint64_t target = 0;
    // The version in force before the target; 0 for the first one.
    uint64_t previous = 0;
    // The target's config (its POPs and safety.rollout); null when it does not load.
    const v1::Config* config = nullptr;
    // The health now, the rollout's baseline.
    FleetView fleet;
    bool all_at_once = false;
    // Who applied, for the outcome of a rollout all_at_once supersedes.
    std::string applied_by;
  };
  // The target was stored and is the version in force. Requires CanStart(all_at_once).ok(). With
  // all_at_once, a rollout running ends SUPERSEDED (kSave); then, when there is nothing to stage
  // (all_at_once, the first version, no config, or a first wave that covers every POP), kPushAll
  // and the last rollout's record stays as it was. Otherwise a rollout starts RUNNING with the
  // baseline of every POP of the config: kStarted, then the first wave's kSave and kPush.
  std::vector<RolloutAction> Start(const StartInput& input, absl::Time now);

  // A node of `pop` acknowledged `version`: when that is the target and `pop` is in the current
  // wave, the wave's bake counts from now. No actions.
  void OnAck(const std::string& pop, uint64_t version, absl::Time now);
  // A node of `pop` refused `version`: when that is the target, kRollBack (a target one node
  // cannot apply will not fare better elsewhere).
  std::vector<RolloutAction> OnNack(const std::string& node, const std::string& pop,
                                    uint64_t version, const std::string& reason, absl::Time now);
  // The periodic check (after each plan): the rollback causes first (a correlated-failure freeze
  // that began during the rollout, then each reached POP's health against its baseline), then
  // the current wave's progress: "waiting" for ACKs, "baking" until bake_until, "done" (kWaveDone)
  // and the next wave (kSave, kPush), or kDone after the last (kSave). Entering "baking" is saved
  // (kSave). Nothing while no rollout is running.
  std::vector<RolloutAction> OnTick(const FleetView& fleet, absl::Time now);

  // The rollback a kRollBack asked for is stored as version `stored`: the rollout ends
  // ROLLED_BACK with `reason` as its outcome (kSave).
  std::vector<RolloutAction> RollbackStored(const std::string& reason, uint64_t stored,
                                            absl::Time now);
  // An operator rolled back (stored as version `stored`, restoring `restores`): a rollout
  // running ends ROLLED_BACK (kSave); the caller pushes to everyone at once, as after any
  // rollback. Nothing when none is running.
  std::vector<RolloutAction> OperatorRollback(const std::string& by, uint64_t stored,
                                              uint64_t restores, const std::string& reason,
                                              absl::Time now);

  bool running() const {
    return status_.has_value() && status_->state() == v1::RolloutStatus::RUNNING;
  }
  // The version a node of `pop` should run while a rollout is running: the target once a wave
  // that names `pop` started, else the previous version (also for a node of no known POP, "").
  // nullopt when no rollout is running: every node runs the version in force.
  std::optional<uint64_t> VersionFor(const std::string& pop) const;
  // The rollout under way or the last one, as stored and shown in status; null when there was
  // none.
  const v1::RolloutStatus* status() const { return status_ ? &*status_ : nullptr; }

 private:
  v1::RolloutWaveStatus& CurrentWave();
  // Some wave that names `pop` has pushed the target to it.
  bool Reached(const std::string& pop) const;
  // Takes the baseline of POPs not reached yet that had none and have reported since. True when
  // it took one.
  bool FillBaselines(const FleetView& fleet);
  // The POPs of `wave` not reached yet with a node connected and no baseline.
  std::vector<std::string> WithoutEvidence(const v1::RolloutWaveStatus& wave,
                                           const FleetView& fleet) const;
  // Starts wave `index`: "awaiting_health" while WithoutEvidence (kSave when the reason
  // changes), else "waiting" with kSave and kPush.
  std::vector<RolloutAction> StartWave(size_t index, const FleetView& fleet, absl::Time now);
  // The rollback cause at `now`, if any: the freeze, or a regression held for kRegressionHold.
  // Sets `suspect` when some POP looks regressed, not for long enough.
  std::optional<std::string> RollbackCause(const FleetView& fleet, absl::Time now, bool& suspect);
  std::vector<RolloutAction> AdvanceWave(const FleetView& fleet, absl::Time now, bool suspect);

  std::optional<v1::RolloutStatus> status_;
  // Since when each POP's health has looked regressed.
  std::map<std::string, absl::Time> regressed_since_;
};

}  // namespace holdfast::control

#endif  // HOLDFAST_CONTROL_PLANE_ROLLOUT_ROLLOUT_H_
