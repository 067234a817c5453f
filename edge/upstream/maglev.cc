#include "edge/upstream/maglev.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "edge/upstream/stable_hash.h"

namespace holdfast::edge {
namespace {

// Seeds of the two per-endpoint hashes (HashKey() uses 0). Frozen: changing either remaps
// every key of every consistently hashed cluster.
constexpr uint64_t kOffsetSeed = 1;
constexpr uint64_t kSkipSeed = 2;

constexpr uint32_t kEmptySlot = std::numeric_limits<uint32_t>::max();

bool IsPrime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; d <= n / d; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// One endpoint's walk through its preference list, permutation[j] = (offset + j * skip) % M.
// With M prime and 1 <= skip < M, the walk visits every slot exactly once.
struct Walk {
  uint64_t offset = 0;
  uint64_t skip = 0;
  uint64_t next = 0;    // j of the next slot to try
  uint64_t weight = 0;  // the endpoint's weight
  uint64_t target = 0;  // fills once iteration * weight reaches it (see Create)
};

}  // namespace

absl::StatusOr<std::shared_ptr<const MaglevTable>> MaglevTable::Create(
    std::span<const Endpoint> endpoints, uint32_t table_size) {
  if (absl::Status status = ValidateEndpoints(endpoints); !status.ok()) return status;
  if (table_size > kMaxMaglevTableSize || !IsPrime(table_size)) {
    return absl::InvalidArgumentError(absl::StrCat("maglev table size ", table_size,
                                                   " is not a prime up to ", kMaxMaglevTableSize));
  }
  if (endpoints.size() > table_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "maglev table size ", table_size, " is smaller than the ", endpoints.size(), " endpoints"));
  }
  if (endpoints.empty()) {
    return std::shared_ptr<const MaglevTable>(new MaglevTable({}, 0));
  }

  const uint64_t m = table_size;
  std::vector<Walk> walks(endpoints.size());
  uint64_t max_weight = 0;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    walks[i].offset = StableHash64(endpoints[i].key, kOffsetSeed) % m;
    // A table of size 2 has only skip 1; the `+ 1` keeps skip off 0 for every size.
    walks[i].skip = StableHash64(endpoints[i].key, kSkipSeed) % (m - 1) + 1;
    walks[i].weight = endpoints[i].weight;
    max_weight = std::max(max_weight, walks[i].weight);
  }

  // The paper's population loop, weighted the way Envoy's MaglevTable does it: in each
  // iteration every endpoint of the maximum weight takes its next preferred free slot, and one
  // of weight w takes one only every max/w iterations, tracked by `target`. All endpoints take
  // one in the first iteration, so with M >= N each owns at least one slot (Pick relies on
  // that). Slot shares end up proportional to weight.
  //
  // Endpoints whose walks reach a free slot in the same iteration compete in order, so the
  // order is the keys' rather than the config's: nodes that learn the same endpoints in another
  // order (DNS answers rotate) must still build the same table.
  std::vector<size_t> order(endpoints.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return endpoints[a].key < endpoints[b].key; });
  std::vector<uint32_t> entries(table_size, kEmptySlot);
  uint64_t filled = 0;
  for (uint64_t iteration = 1; filled < m; ++iteration) {
    for (size_t n = 0; n < order.size() && filled < m; ++n) {
      const size_t i = order[n];
      Walk& walk = walks[i];
      if (iteration * walk.weight < walk.target) continue;
      walk.target += max_weight;
      uint64_t slot = (walk.offset + walk.next * walk.skip) % m;
      while (entries[slot] != kEmptySlot) {
        ++walk.next;
        slot = (walk.offset + walk.next * walk.skip) % m;
      }
      entries[slot] = static_cast<uint32_t>(i);
      ++walk.next;
      ++filled;
    }
  }
  return std::shared_ptr<const MaglevTable>(new MaglevTable(std::move(entries), endpoints.size()));
}

std::optional<size_t> MaglevTable::Lookup(uint64_t hash) const {
  if (entries_.empty()) return std::nullopt;
  return entries_[hash % entries_.size()];
}

std::optional<size_t> MaglevTable::Pick(uint64_t hash, const Eligibility& eligibility,
                                        std::optional<size_t> avoid) const {
  if (entries_.empty() || eligibility.empty() || eligibility.counts().total != endpoint_count_) {
    return std::nullopt;
  }
  const std::optional<size_t> effective_avoid =
      EffectiveAvoid(PickRequest{.eligibility = eligibility, .avoid = avoid});

  // Walking forward rather than rebuilding the table over the eligible endpoints: a rebuild
  // costs O(M log M) on every worker at every health flap, and even Maglev's minimal disruption
  // moves some keys between endpoints that stayed healthy. The walk moves none of those, and
  // since each endpoint's slots are scattered by its own permutation, the slot after one of
  // them belongs to any other endpoint in proportion to its share.
  const size_t size = entries_.size();
  size_t slot = hash % size;
  for (size_t step = 0; step < size; ++step) {
    const size_t index = entries_[slot];
    if (eligibility.Contains(index) && index != effective_avoid) return index;
    if (++slot == size) slot = 0;
  }
  // Unreachable: every endpoint owns a slot (Create) and an eligible one other than the avoided
  // one exists (EffectiveAvoid).
  return std::nullopt;
}

std::vector<size_t> MaglevTable::SlotCounts() const {
  std::vector<size_t> counts(endpoint_count_, 0);
  for (const uint32_t index : entries_) ++counts[index];
  return counts;
}

std::optional<size_t> MaglevBalancer::Pick(const PickRequest& request) {
  if (table_ == nullptr) return std::nullopt;
  return table_->Pick(request.hash, request.eligibility, request.avoid);
}

}  // namespace holdfast::edge
