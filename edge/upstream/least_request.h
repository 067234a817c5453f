// Least request with the power of two choices (Mitzenmacher): sample two distinct eligible
// endpoints, send the request to the one with fewer in-flight requests per unit of weight.
#ifndef HOLDFAST_EDGE_UPSTREAM_LEAST_REQUEST_H_
#define HOLDFAST_EDGE_UPSTREAM_LEAST_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "edge/upstream/balancer.h"

namespace holdfast::edge {

// A source of uniformly distributed 64-bit values, injected so tests are deterministic. A
// seeded std::mt19937_64 works as is; so does a lambda over the worker's own generator, which
// must then outlive the balancer. Called on the balancer's thread only.
using RandomSource = absl::AnyInvocable<uint64_t()>;

// Not thread-safe: one per cluster per worker. Ignores PickRequest::hash.
//
// Weights: the two candidates are sampled in proportion to weight (uniformly when all weights
// are equal, O(1); otherwise O(eligible)), and compared by active / weight. Ties go to the first
// candidate. So an idle cluster gets traffic in proportion to weight, and a loaded one converges
// to in-flight requests in proportion to weight. (Sampling uniformly and only weighting the
// comparison, a weight-10 endpoint among ten could never get more than the ~2/10 of picks it
// appears in.)
class LeastRequestBalancer final : public Balancer {
 public:
  // `weights` by endpoint index, each in [kMinEndpointWeight, kMaxEndpointWeight] (clamped). A null
  // `random` is replaced by a default-seeded std::mt19937_64 (deterministic, not a crash).
  LeastRequestBalancer(std::vector<uint32_t> weights, RandomSource random);

  // With one candidate (one eligible endpoint, or two with one avoided) picks it without
  // drawing random numbers; otherwise draws exactly two.
  [[nodiscard]] std::optional<size_t> Pick(const PickRequest& request) override;

 private:
  std::vector<uint32_t> weights_;
  bool equal_weights_ = true;
  RandomSource random_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_UPSTREAM_LEAST_REQUEST_H_
