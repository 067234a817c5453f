#include "edge/upstream/least_request.h"

#include <algorithm>
#include <functional>
#include <random>
#include <span>
#include <utility>

namespace holdfast::edge {
namespace {

uint32_t Active(std::span<const uint32_t> active_requests, size_t index) {
  return index < active_requests.size() ? active_requests[index] : 0;
}

// The candidates are the eligible indices minus at most one position (the avoided endpoint).
// Mapping a candidate number to an index keeps the pick free of allocation.
class Candidates {
 public:
  Candidates(std::span<const size_t> eligible, std::optional<size_t> avoid) : eligible_(eligible) {
    if (avoid.has_value()) {
      skip_ = static_cast<size_t>(std::lower_bound(eligible.begin(), eligible.end(), *avoid) -
                                  eligible.begin());
    }
  }
  size_t size() const { return eligible_.size() - (skip_.has_value() ? 1 : 0); }
  size_t operator[](size_t n) const {
    return eligible_[skip_.has_value() && n >= *skip_ ? n + 1 : n];
  }

 private:
  std::span<const size_t> eligible_;
  std::optional<size_t> skip_;  // position in eligible_ of the avoided endpoint
};

}  // namespace

LeastRequestBalancer::LeastRequestBalancer(std::vector<uint32_t> weights, RandomSource random)
    : weights_(std::move(weights)), random_(std::move(random)) {
  // A weight of 0 would make a weighted draw divide by zero, and one above the maximum could
  // overflow the load comparison; ClusterLb validates weights, so this only guards direct
  // construction.
  for (uint32_t& weight : weights_) {
    weight = std::clamp(weight, kMinEndpointWeight, kMaxEndpointWeight);
  }
  equal_weights_ =
      std::adjacent_find(weights_.begin(), weights_.end(), std::not_equal_to<>()) == weights_.end();
  if (random_ == nullptr) random_ = std::mt19937_64();
}

std::optional<size_t> LeastRequestBalancer::Pick(const PickRequest& request) {
  const Eligibility& eligibility = request.eligibility;
  if (eligibility.empty() || eligibility.counts().total != weights_.size()) return std::nullopt;
  const Candidates candidates(eligibility.indices(), EffectiveAvoid(request));
  const size_t n = candidates.size();
  if (n == 1) return candidates[0];

  // Candidate numbers (not endpoint indices) of the two choices, distinct. The modulo bias of
  // random % n is below n / 2^64: irrelevant for any real cluster size.
  size_t first = 0;
  size_t second = 0;
  if (equal_weights_) {
    first = random_() % n;
    second = random_() % (n - 1);
    if (second >= first) ++second;
  } else {
    uint64_t total = 0;
    for (size_t c = 0; c < n; ++c) total += weights_[candidates[c]];
    // Walks to the candidate whose cumulative weight range holds `point`, skipping `exclude`.
    auto find = [&](uint64_t point, std::optional<size_t> exclude) {
      for (size_t c = 0; c < n; ++c) {
        if (c == exclude) continue;
        const uint32_t weight = weights_[candidates[c]];
        if (point < weight) return c;
        point -= weight;
      }
      return n - 1;  // unreachable: point < the sum walked
    };
    first = find(random_() % total, std::nullopt);
    second = find(random_() % (total - weights_[candidates[first]]), first);
  }

  const size_t a = candidates[first];
  const size_t b = candidates[second];
  // active_a / weight_a <= active_b / weight_b, cross-multiplied: exact, and it cannot overflow
  // (2^32 * 1000 < 2^64).
  const uint64_t load_a = uint64_t{Active(request.active_requests, a)} * weights_[b];
  const uint64_t load_b = uint64_t{Active(request.active_requests, b)} * weights_[a];
  return load_b < load_a ? b : a;
}

}  // namespace holdfast::edge
