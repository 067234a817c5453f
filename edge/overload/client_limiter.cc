#include "edge/overload/client_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>

namespace holdfast::edge {

ClientLimiter::ClientLimiter(const ClientLimitParams& params)
    : params_(params), per_shard_(std::max<size_t>(1, params.max_clients / kShards)) {}

ClientLimiter::Decision ClientLimiter::Take(std::string_view client, SteadyTime now) {
  Shard& shard = shards_[std::hash<std::string_view>()(client) % kShards];
  std::lock_guard lock(shard.mu);
  auto it = shard.buckets.find(std::string(client));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= per_shard_ && !SweepLocked(shard, now)) {
      ++shard.untracked;
      return {};
    }
    it = shard.buckets.emplace(std::string(client), Bucket{static_cast<double>(params_.burst), now})
             .first;
  }
  Bucket& bucket = it->second;
  Refill(bucket, now);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return {};
  }
  const double wait = (1 - bucket.tokens) / params_.rate;
  return {false, std::chrono::seconds(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait))))};
}

size_t ClientLimiter::clients() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.buckets.size();
  }
  return n;
}

uint64_t ClientLimiter::untracked() const {
  uint64_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.untracked;
  }
  return n;
}

void ClientLimiter::Refill(Bucket& bucket, SteadyTime now) const {
  if (now <= bucket.updated) return;
  const double seconds = std::chrono::duration<double>(now - bucket.updated).count();
  bucket.tokens =
      std::min(static_cast<double>(params_.burst), bucket.tokens + seconds * params_.rate);
  bucket.updated = now;
}

bool ClientLimiter::SweepLocked(Shard& shard, SteadyTime now) const {
  // A sweep walks the whole shard: at most one a second, however many new clients come.
  if (shard.swept.has_value() && now - *shard.swept < std::chrono::seconds(1)) return false;
  shard.swept = now;
  const size_t before = shard.buckets.size();
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    Refill(it->second, now);
    it = it->second.tokens >= params_.burst ? shard.buckets.erase(it) : std::next(it);
  }
  return shard.buckets.size() < before;
}

}  // namespace holdfast::edge
