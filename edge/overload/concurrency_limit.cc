#include "edge/overload/concurrency_limit.h"

#include <algorithm>
#include <cmath>

namespace holdfast::edge {
namespace {

// Enough for a median at any rate: at 100,000 answers a second, an interval of 100 ms keeps
// the last 4,096 of its 10,000.
constexpr size_t kMaxSamples = 4096;

}  // namespace

ConcurrencyLimit::ConcurrencyLimit(const LimitParams& params, SteadyTime now, uint64_t seed)
    : params_(params), random_(seed), limit_(params.min_limit) {
  samples_.reserve(64);
  StartMeasuring(now);
}

void ConcurrencyLimit::OnSample(uint64_t epoch, Micros rtt) {
  if (measuring_ && epoch != epoch_) return;  // admitted before the measurement began
  if (samples_.size() < kMaxSamples) {
    samples_.push_back(rtt);
  } else {
    samples_[sample_count_ % kMaxSamples] = rtt;
  }
  ++sample_count_;
}

void ConcurrencyLimit::NoteInFlight(uint32_t in_flight) {
  peak_in_flight_ = std::max(peak_in_flight_, in_flight);
}

void ConcurrencyLimit::Advance(SteadyTime now) {
  if (measuring_) {
    if (sample_count_ < params_.min_rtt_requests) return;
    auto middle = samples_.begin() + static_cast<std::ptrdiff_t>(samples_.size() / 2);
    std::nth_element(samples_.begin(), middle, samples_.end());
    min_rtt_ = std::max(*middle, Micros(1));
    measuring_ = false;
    ++epoch_;
    samples_.clear();
    sample_count_ = 0;
    peak_in_flight_ = 0;
    window_end_ = now + params_.update_interval;
    next_measurement_ = now + NextMinRttInterval();
    return;
  }
  if (now >= next_measurement_) {
    StartMeasuring(now);
    return;
  }
  if (now < window_end_) return;
  Update();
  samples_.clear();
  sample_count_ = 0;
  peak_in_flight_ = 0;
  window_end_ = now + params_.update_interval;
}

void ConcurrencyLimit::Reconfigure(const LimitParams& params) {
  params_ = params;
  limit_ = std::clamp(limit_, params_.min_limit, params_.max_limit);
}

void ConcurrencyLimit::StartMeasuring(SteadyTime now) {
  measuring_ = true;
  ++epoch_;
  samples_.clear();
  sample_count_ = 0;
  window_end_ = now;
}

void ConcurrencyLimit::Update() {
  if (samples_.empty()) return;
  auto middle = samples_.begin() + static_cast<std::ptrdiff_t>(samples_.size() / 2);
  std::nth_element(samples_.begin(), middle, samples_.end());
  sample_rtt_ = std::max(*middle, Micros(1));
  // The limit did not bind: what the backends took says nothing of what they could take.
  if (uint64_t{peak_in_flight_} * 2 < limit_) return;
  const double target = static_cast<double>(min_rtt_.count()) * (1.0 + params_.buffer);
  const double gradient = std::clamp(target / static_cast<double>(sample_rtt_.count()), 0.5, 2.0);
  const double scaled = gradient * limit_;
  const double next = scaled + std::sqrt(scaled);
  limit_ = static_cast<uint32_t>(std::clamp(next, static_cast<double>(params_.min_limit),
                                            static_cast<double>(params_.max_limit)));
}

Micros ConcurrencyLimit::NextMinRttInterval() {
  std::uniform_real_distribution<double> jitter(-params_.min_rtt_jitter, params_.min_rtt_jitter);
  const double factor = 1.0 + jitter(random_);
  return Micros(static_cast<int64_t>(static_cast<double>(params_.min_rtt_interval.count()) *
                                     std::max(factor, 0.0)));
}

}  // namespace holdfast::edge
