#include "edge/upstream/round_robin.h"

#include <utility>

namespace holdfast::edge {

RoundRobinBalancer::RoundRobinBalancer(std::vector<uint32_t> weights)
    : weights_(std::move(weights)), current_(weights_.size(), 0), last_pick_(weights_.size(), 0) {}

std::optional<size_t> RoundRobinBalancer::Pick(const PickRequest& request) {
  const Eligibility& eligibility = request.eligibility;
  if (eligibility.empty() || eligibility.counts().total != weights_.size()) return std::nullopt;
  const std::optional<size_t> avoid = EffectiveAvoid(request);

  ++picks_;
  int64_t total = 0;
  std::optional<size_t> best;
  for (const size_t index : eligibility.indices()) {
    // Tracking "eligible last time" per endpoint, rather than resetting every weight whenever
    // the set changes, keeps the others' rotation intact while one endpoint flaps.
    if (last_pick_[index] + 1 != picks_) current_[index] = 0;
    last_pick_[index] = picks_;
    // The avoided endpoint sits this pick out without gaining weight, as nginx does for peers
    // already tried by this request.
    if (index == avoid) continue;
    current_[index] += weights_[index];
    total += weights_[index];
    if (!best.has_value() || current_[index] > current_[*best]) best = index;
  }
  current_[*best] -= total;
  return best;
}

}  // namespace holdfast::edge
