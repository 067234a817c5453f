#include "edge/overload/gate.h"

#include <algorithm>
#include <cmath>
#include <tuple>

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
    : params_(params), limit_(params.limit, now, seed), random_(seed + 1), window_start_(now) {}

std::variant<ClusterGate::Ticket, ClusterGate::Refusal> ClusterGate::Admit(SteadyTime now) {
  std::lock_guard lock(mu_);
  AdvanceLocked(now);
  if (in_flight_ >= params_.limit.max_limit) return RefuseLocked(ShedReason::kMaxRequests);
  if (params_.adaptive && in_flight_ >= limit_.limit()) {
    return RefuseLocked(ShedReason::kConcurrencyLimit);
  }
  ++in_flight_;
  ++admitted_;
  limit_.NoteInFlight(in_flight_);
  return Ticket(this, limit_.epoch(), now);
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
  s.limit = LimitLocked();
  s.in_flight = in_flight_;
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
  std::lock_guard lock(mu_);
  --in_flight_;
  ++window_drained_;
  if (rtt.has_value()) limit_.OnSample(epoch, *rtt);
  if (now.has_value()) AdvanceLocked(*now);
}

void ClusterGate::AdvanceLocked(SteadyTime now) {
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

uint32_t ClusterGate::LimitLocked() const {
  return params_.adaptive ? std::min(limit_.limit(), params_.limit.max_limit)
                          : params_.limit.max_limit;
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
