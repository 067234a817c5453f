// Fair shares on a listener: one token bucket per client, so that one client (an address, or
// the value of a configured header) cannot take the whole admitted capacity. A bucket holds
// `burst` requests and refills at `rate` a second; a request that finds it empty is refused
// (the caller answers 429 with the Retry-After given here: when the next token comes).
//
// The buckets live in shards, each behind its own mutex, and each shard keeps at most
// max_clients / kShards of them: when one is full, the buckets that have refilled completely
// (clients idle for burst / rate seconds, which a new bucket would equal) go first; when none
// has (or the last sweep was less than a second ago), the client is let through untracked
// rather than evicting one that is being limited.
// Time comes from the caller. Thread-safe.
#ifndef HOLDFAST_EDGE_OVERLOAD_CLIENT_LIMITER_H_
#define HOLDFAST_EDGE_OVERLOAD_CLIENT_LIMITER_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "edge/overload/concurrency_limit.h"

namespace holdfast::edge {

struct ClientLimitParams {
  double rate = 100;  // tokens a second
  uint32_t burst = 200;
  size_t max_clients = 100'000;
};

class ClientLimiter {
 public:
  static constexpr size_t kShards = 16;

  explicit ClientLimiter(const ClientLimitParams& params);

  struct Decision {
    bool allowed = true;
    // When refused: whole seconds until the bucket has a token again, at least 1.
    std::chrono::seconds retry_after{0};
  };

  // Takes a token from `client`'s bucket at `now`.
  Decision Take(std::string_view client, SteadyTime now);
  // Clients with a bucket now.
  size_t clients() const;
  // Requests let through untracked because a shard was full of clients being limited.
  uint64_t untracked() const;

 private:
  struct Bucket {
    double tokens = 0;
    SteadyTime updated;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    uint64_t untracked = 0;
    std::optional<SteadyTime> swept;
  };

  // Refills `bucket` up to `now`.
  void Refill(Bucket& bucket, SteadyTime now) const;
  // Drops the buckets of `shard` that have refilled completely; false when none had, or when
  // the shard was swept less than a second ago.
  bool SweepLocked(Shard& shard, SteadyTime now) const;

  ClientLimitParams params_;
  size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_OVERLOAD_CLIENT_LIMITER_H_
