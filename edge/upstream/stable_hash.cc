#include "edge/upstream/stable_hash.h"

namespace holdfast::edge {
namespace {

constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

// MurmurHash3's fmix64. FNV-1a alone mixes the last bytes poorly into the high bits, and
// Maglev takes the hash modulo a prime, which needs all bits to vary.
uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

}  // namespace

uint64_t StableHash64(std::string_view data, uint64_t seed) {
  // Mixing the seed (plus the golden-ratio constant, so seed 0 is not a fixed point) into the
  // start state makes two seeds diverge from the first byte on.
  uint64_t hash = kFnvOffsetBasis ^ Fmix64(seed + 0x9e3779b97f4a7c15ULL);
  for (const char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  // The length is folded in as cheap extra separation between inputs of different sizes.
  return Fmix64(hash ^ data.size());
}

uint64_t HashKey(std::string_view key) { return StableHash64(key, 0); }

}  // namespace holdfast::edge
