#include "edge/overload/gate.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

namespace holdfast::edge {
namespace {

// Rates are counted over the current window and the last whole one: between one and two
// seconds of history.
constexpr std::chrono::seconds kRateWindow{1};
constexpr std::chrono::seconds kMaxRetryAfter{60};

double Seconds(SteadyTime::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string_view ShedReasonName(ShedReason reason) {
  switch (reason) {
    case ShedReason::kConcurrencyLimit:
      return "concurrency_limit";
    case ShedReason::kMaxRequests:
      return "max_requests";
    case ShedReason::kMaxConnections:
      return "max_connections";
    case ShedReason::kMaxPending:
      return "max_pending";
    case ShedReason::kPendingTimeout:
      return "pending_timeout";
  }
  return "unknown";
}

ClusterGate::Ticket& ClusterGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Finish(std::nullopt, std::nullopt);
    gate_ = std::exchange(other.gate_, nullptr);
    epoch_ = other.epoch_;
    since_ = other.since_;
  }
  return *this;
}

void ClusterGate::Ticket::Finish(std::optional<SteadyTime> now, std::optional<Micros> rtt) {
  if (gate_ == nullptr) return;
  std::exchange(gate_, nullptr)->Release(now, epoch_, rtt);
}

ClusterGate::ClusterGate(const GateParams& params, SteadyTime now, uint64_t seed)
    : params_(params),
      limit_(params.limit, now, seed),
      random_(seed + 1),
      last_now_(now),
      window_start_(now) {}

ClusterGate::Decision ClusterGate::Admit(SteadyTime now, Priority priority,
                                         std::shared_ptr<Waiter> waiter) {
  std::vector<Wakeup> wake;
  Decision out;
  {
    std::lock_guard lock(mu_);
    AdvanceLocked(now);
    // The limit may have grown since the last release: those waiting go first.
    WakeLocked(wake);
    // A newcomer does not overtake those waiting at its priority or above.
    const bool waiting_ahead = !pending_[kCritical].empty() ||
                               (priority == Priority::kNormal && !pending_[kNormal].empty());
    if (!waiting_ahead && in_flight_ < LimitFor(priority)) {
      out = AdmitLocked(now);
    } else {
      const ShedReason over = in_flight_ >= params_.limit.max_limit ? ShedReason::kMaxRequests
                                                                    : ShedReason::kConcurrencyLimit;
      if (waiter == nullptr || params_.pending_timeout <= Micros(0)) {
        out = RefuseLocked(over);
      } else if (pending_[kCritical].size() + pending_[kNormal].size() >= params_.max_pending) {
        out = RefuseLocked(ShedReason::kMaxPending);
      } else if (!CouldWaitLocked(now, priority)) {
        out = RefuseLocked(ShedReason::kPendingTimeout);
      } else {
        const uint64_t id = next_pending_id_++;
        const SteadyTime deadline = now + params_.pending_timeout;
        pending_[static_cast<size_t>(priority)].emplace(id, std::move(waiter));
        out = Queued{id, deadline};
      }
    }
  }
  Deliver(wake);
  return out;
}

std::optional<ClusterGate::Refusal> ClusterGate::Abandon(uint64_t id, SteadyTime now) {
  std::lock_guard lock(mu_);
  AdvanceLocked(now);
  for (auto& queue : pending_) {
    if (queue.erase(id) > 0) return RefuseLocked(ShedReason::kPendingTimeout);
  }
  return std::nullopt;
}

ClusterGate::Refusal ClusterGate::Refuse(SteadyTime now, ShedReason reason) {
  std::lock_guard lock(mu_);
  AdvanceLocked(now);
  return RefuseLocked(reason);
}

void ClusterGate::Reconfigure(const GateParams& params) {
  std::lock_guard lock(mu_);
  params_ = params;
  limit_.Reconfigure(params.limit);
}

GateStatus ClusterGate::Status(SteadyTime now) const {
  std::lock_guard lock(mu_);
  GateStatus s;
  s.adaptive = params_.adaptive;
  s.limit = LimitFor(Priority::kNormal);
  s.in_flight = in_flight_;
  s.pending = static_cast<uint32_t>(pending_[kCritical].size() + pending_[kNormal].size());
  s.measuring = params_.adaptive && limit_.measuring();
  s.min_rtt = limit_.min_rtt();
  s.sample_rtt = limit_.sample_rtt();
  std::tie(s.drained_per_second, s.refused_per_second) = RatesLocked(now);
  s.admitted = admitted_;
  s.refused = refused_;
  return s;
}

void ClusterGate::Release(std::optional<SteadyTime> now, uint64_t epoch,
                          std::optional<Micros> rtt) {
  std::vector<Wakeup> wake;
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    ++window_drained_;
    if (rtt.has_value()) limit_.OnSample(epoch, *rtt);
    if (now.has_value()) AdvanceLocked(*now);
    WakeLocked(wake);
  }
  Deliver(wake);
}

ClusterGate::Ticket ClusterGate::AdmitLocked(SteadyTime now) {
  ++in_flight_;
  ++admitted_;
  limit_.NoteInFlight(in_flight_);
  return Ticket(this, limit_.epoch(), now);
}

void ClusterGate::WakeLocked(std::vector<Wakeup>& wake) {
  for (const Priority priority : {Priority::kCritical, Priority::kNormal}) {
    auto& queue = pending_[static_cast<size_t>(priority)];
    while (!queue.empty() && in_flight_ < LimitFor(priority)) {
      wake.push_back({std::move(queue.begin()->second), AdmitLocked(last_now_)});
      queue.erase(queue.begin());
    }
    if (!queue.empty()) return;  // the critical ones still wait: normal ones wait behind them
  }
}

void ClusterGate::Deliver(std::vector<Wakeup>& wake) {
  for (Wakeup& w : wake) w.waiter->Admitted(std::move(w.ticket));
}

uint32_t ClusterGate::LimitFor(Priority priority) const {
  const uint32_t hard = params_.limit.max_limit;
  if (!params_.adaptive) return hard;
  const uint32_t limit = limit_.limit();
  const uint32_t critical = limit + std::max<uint32_t>(1, limit / 4);
  return std::min(hard, priority == Priority::kCritical ? critical : limit);
}

bool ClusterGate::CouldWaitLocked(SteadyTime now, Priority priority) const {
  const size_t ahead =
      pending_[kCritical].size() + (priority == Priority::kNormal ? pending_[kNormal].size() : 0);
  const uint64_t drained = last_window_.drained + window_drained_;
  if (drained == 0) return true;  // nothing to judge by yet: the deadline bounds the wait
  const double seconds = Seconds(last_window_.length + (now - window_start_));
  const double wait = static_cast<double>(ahead + 1) * seconds / static_cast<double>(drained);
  return wait <= std::chrono::duration<double>(params_.pending_timeout).count();
}

void ClusterGate::AdvanceLocked(SteadyTime now) {
  last_now_ = std::max(last_now_, now);
  limit_.Advance(now);
  const SteadyTime::duration elapsed = now - window_start_;
  if (elapsed < kRateWindow) return;
  last_window_ = {window_drained_, window_refused_, elapsed};
  window_start_ = now;
  window_drained_ = 0;
  window_refused_ = 0;
}

std::pair<double, double> ClusterGate::RatesLocked(SteadyTime now) const {
  const double seconds = Seconds(last_window_.length + (now - window_start_));
  if (seconds <= 0) return {0, 0};
  return {static_cast<double>(last_window_.drained + window_drained_) / seconds,
          static_cast<double>(last_window_.refused + window_refused_) / seconds};
}

ClusterGate::Refusal ClusterGate::RefuseLocked(ShedReason reason) {
  ++refused_[static_cast<size_t>(reason)];
  ++window_refused_;
  // Counts over the same span, not rates: a few events just after a start give no rate worth
  // the name, but their ratio holds. What is in flight drains soon too.
  const double refused = static_cast<double>(last_window_.refused + window_refused_);
  const double drained = static_cast<double>(last_window_.drained + window_drained_ + in_flight_);
  const double spread = std::max(1.0, refused / std::max(drained, 1.0));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  const double seconds = std::ceil(spread * jitter(random_));
  return {reason, std::chrono::seconds(static_cast<int64_t>(
                      std::clamp(seconds, 1.0, static_cast<double>(kMaxRetryAfter.count()))))};
}

ClusterGate* GateRegistry::Get(const std::string& name, const GateParams& params, SteadyTime now) {
  std::lock_guard lock(mu_);
  std::unique_ptr<ClusterGate>& gate = gates_[name];
  if (gate == nullptr) {
    gate = std::make_unique<ClusterGate>(params, now, (uint64_t{seeds_()} << 32) | seeds_());
  } else {
    gate->Reconfigure(params);
  }
  return gate.get();
}

}  // namespace holdfast::edge
