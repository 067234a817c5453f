// How many requests a cluster's backends take at once before they queue: Envoy's adaptive
// concurrency gradient controller, with Netflix concurrency-limits' guard for a limit that
// nothing presses against. A pure state machine: latency samples and the time in, the limit
// out; the caller (gate.h) admits requests under it and feeds it what they measured.
//
// Two measurements. The latency without queueing, min RTT: every min_rtt_interval (jittered)
// the limit drops to min_limit until min_rtt_requests requests admitted under it have answered,
// and their median is the new min RTT. The latency now, sample RTT: the median of what answered
// in each update_interval. At the end of each update interval the limit follows the gradient
//
//   gradient = clamp((min RTT x (1 + buffer)) / sample RTT, 0.5, 2)
//   limit    = clamp(gradient x limit + sqrt(gradient x limit), min_limit, max_limit)
//
// so it shrinks while the backends queue (sample RTT above min RTT plus the buffer) and grows
// while they do not; sqrt(limit) is the headroom that finds out whether they could take more.
// An interval whose peak of requests in flight stayed under half the limit leaves the limit
// alone: the limit did not bind, so the latency says nothing about it.
//
//   ConcurrencyLimit limit(params, now, seed);
//   if (in_flight < limit.limit()) { admit; epoch = limit.epoch(); }
//   ... limit.OnSample(epoch, rtt); limit.Advance(now, in_flight);
#ifndef HOLDFAST_EDGE_OVERLOAD_CONCURRENCY_LIMIT_H_
#define HOLDFAST_EDGE_OVERLOAD_CONCURRENCY_LIMIT_H_

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

namespace holdfast::edge {

using SteadyTime = std::chrono::steady_clock::time_point;
using Micros = std::chrono::microseconds;

struct LimitParams {
  // The limit while min RTT is measured, and the lowest it goes.
  uint32_t min_limit = 3;
  // The highest it goes: the cluster's circuit breaker (max_requests).
  uint32_t max_limit = 1024;
  Micros update_interval = std::chrono::milliseconds(100);
  Micros min_rtt_interval = std::chrono::seconds(60);
  // Each min_rtt_interval is this fraction longer or shorter, at random: edges that started
  // together do not measure together.
  double min_rtt_jitter = 0.15;
  uint32_t min_rtt_requests = 50;
  // How far sample RTT may rise above min RTT before the limit shrinks: 0.25 is 25%.
  double buffer = 0.25;
};

class ConcurrencyLimit {
 public:
  // Starts with a min RTT measurement, as Envoy does: nothing is known of the backends yet.
  ConcurrencyLimit(const LimitParams& params, SteadyTime now, uint64_t seed);

  // The requests that may be in flight now.
  uint32_t limit() const { return measuring_ ? params_.min_limit : limit_; }
  // Tags an admitted request: a measurement of min RTT counts only requests admitted under it.
  uint64_t epoch() const { return epoch_; }
  bool measuring() const { return measuring_; }
  // The last measured latency without queueing, and the last interval's; zero until known.
  Micros min_rtt() const { return min_rtt_; }
  Micros sample_rtt() const { return sample_rtt_; }

  // A request admitted under `epoch` had its answer after `rtt`.
  void OnSample(uint64_t epoch, Micros rtt);
  // Requests in flight now; call on admission, so the interval's peak is known.
  void NoteInFlight(uint32_t in_flight);
  // Time passes: ends a measurement that has its samples, recomputes the limit at the end of
  // each update interval, starts the next measurement when it is due.
  void Advance(SteadyTime now);
  // New parameters (a reload); what was learnt stays, clamped to the new bounds.
  void Reconfigure(const LimitParams& params);

 private:
  void StartMeasuring(SteadyTime now);
  void Update();
  Micros NextMinRttInterval();

  LimitParams params_;
  std::mt19937_64 random_;
  uint32_t limit_;
  bool measuring_ = false;
  uint64_t epoch_ = 0;
  Micros min_rtt_{0};
  Micros sample_rtt_{0};
  SteadyTime window_end_;
  SteadyTime next_measurement_;
  uint32_t peak_in_flight_ = 0;
  // The current interval's samples (or the measurement's); at most kMaxSamples, the later ones
  // overwriting the earlier in turn.
  std::vector<Micros> samples_;
  size_t sample_count_ = 0;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_OVERLOAD_CONCURRENCY_LIMIT_H_
