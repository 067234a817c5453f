// Stable 64-bit hashing: the same bytes give the same value in every process, run, build and
// machine, unlike absl::Hash (salted per process) or std::hash (unspecified). Consistent hashing
// depends on that: every worker and every edge node must map a key to the same endpoint.
// Not cryptographic: whoever controls the input can choose collisions.
#ifndef HOLDFAST_EDGE_UPSTREAM_STABLE_HASH_H_
#define HOLDFAST_EDGE_UPSTREAM_STABLE_HASH_H_

#include <cstdint>
#include <string_view>

namespace holdfast::edge {

// FNV-1a 64 over `data` from a seed-dependent start, then the MurmurHash3 64-bit finalizer so
// every input bit affects every output bit. Different seeds give independent-looking hashes of
// the same data. Thread-safe (pure).
[[nodiscard]] uint64_t StableHash64(std::string_view data, uint64_t seed);

// The hash a caller passes in PickRequest::hash for Maglev: of a header value, a client
// address, a cookie. StableHash64(key, 0). Thread-safe (pure).
[[nodiscard]] uint64_t HashKey(std::string_view key);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_UPSTREAM_STABLE_HASH_H_
