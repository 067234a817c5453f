// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
// Balancer", NSDI 2016, section 3.4), with weights: a lookup table of a prime size in which each
// endpoint owns a share of slots proportional to its weight; a request's hash picks a slot.
// Adding or removing one of N endpoints moves about 1/N of the keys.
#ifndef HOLDFAST_EDGE_UPSTREAM_MAGLEV_H_
#define HOLDFAST_EDGE_UPSTREAM_MAGLEV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "edge/upstream/balancer.h"
#include "edge/upstream/eligibility.h"
#include "edge/upstream/endpoint.h"

namespace holdfast::edge {

// The paper's default, and Envoy's: large enough against N endpoints for an even spread
// (the paper wants M > 100 * N).
inline constexpr uint32_t kDefaultMaglevTableSize = 65537;
// 2^24 slots (64 MiB per table) is far past any useful size; the cap bounds memory and the
// primality test.
inline constexpr uint32_t kMaxMaglevTableSize = 1U << 24;

// Built once per endpoint-set change (per config snapshot) and immutable afterwards: share it
// across threads as std::shared_ptr<const MaglevTable>. Health does not rebuild it; Pick() steps
// around ineligible endpoints instead.
class MaglevTable {
 public:
  // Builds the table from the endpoints' keys and weights; the endpoints' order gives the
  // indices Pick() returns, and only keys and weights (not order) decide which key maps where.
  // InvalidArgument when ValidateEndpoints() fails, when `table_size` is not a prime, is above
  // kMaxMaglevTableSize, or is smaller than the number of endpoints. No endpoints is valid: the
  // table is then empty and picks nothing. O(table_size * log(table_size)) on average.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const MaglevTable>> Create(
      std::span<const Endpoint> endpoints, uint32_t table_size = kDefaultMaglevTableSize);

  // The number of slots: `table_size` from Create(), or 0 with no endpoints.
  size_t table_size() const { return entries_.size(); }
  size_t endpoint_count() const { return endpoint_count_; }

  // The endpoint owning `hash`'s slot, health not considered; nullopt with no endpoints.
  [[nodiscard]] std::optional<size_t> Lookup(uint64_t hash) const;

  // The endpoint owning `hash`'s slot when it is eligible and not `avoid`; otherwise the owner
  // of the next slot forward that is, so a key moves only while its endpoint is out, and the
  // keys of one endpoint spread over all the others in proportion to their slots. At most
  // table_size() steps. nullopt when nothing is eligible or `eligibility` covers a different
  // number of endpoints than the table. `avoid` as in EffectiveAvoid() (balancer.h).
  [[nodiscard]] std::optional<size_t> Pick(uint64_t hash, const Eligibility& eligibility,
                                           std::optional<size_t> avoid) const;

  // How many slots each endpoint owns, by endpoint index (for tests and the admin page).
  std::vector<size_t> SlotCounts() const;

 private:
  MaglevTable(std::vector<uint32_t> entries, size_t endpoint_count)
      : entries_(std::move(entries)), endpoint_count_(endpoint_count) {}

  std::vector<uint32_t> entries_;  // endpoint index by slot
  size_t endpoint_count_;
};

// Adapts a shared MaglevTable to the Balancer interface. Stateless besides the table, but
// still one per worker like the others. Ignores PickRequest::active_requests.
class MaglevBalancer final : public Balancer {
 public:
  explicit MaglevBalancer(std::shared_ptr<const MaglevTable> table) : table_(std::move(table)) {}

  [[nodiscard]] std::optional<size_t> Pick(const PickRequest& request) override;

 private:
  std::shared_ptr<const MaglevTable> table_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_UPSTREAM_MAGLEV_H_
