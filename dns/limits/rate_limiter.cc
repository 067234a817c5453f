#include "dns/limits/rate_limiter.h"

#include <algorithm>

#include "dns/limits/mapped_v4.h"

namespace holdfast::dns {

ClientKey ClientKey::FromV4(const std::array<uint8_t, 4>& address) {
  ClientKey k;
  k.family = 4;
  std::copy_n(address.begin(), 3, k.bytes.begin());
  return k;
}

ClientKey ClientKey::FromV6(const std::array<uint8_t, 16>& address) {
  if (const auto v4 = MappedV4(address)) return FromV4(*v4);
  ClientKey k;
  k.family = 6;
  std::copy_n(address.begin(), 7, k.bytes.begin());
  return k;
}

RateLimiter::Action RateLimiter::Check(const ClientKey& client,
                                       std::chrono::steady_clock::time_point now) {
  if (!enabled()) return Action::kSend;
  const double rate = options_.responses_per_second;
  const double burst = options_.burst > 0 ? options_.burst : rate;
  if (buckets_.size() >= options_.max_clients && !buckets_.contains(client)) buckets_.clear();
  auto [it, inserted] = buckets_.try_emplace(client);
  Bucket& b = it->second;
  if (inserted) {
    b.tokens = burst;
  } else if (now > b.last) {
    const double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst, b.tokens + elapsed * rate);
  }
  b.last = std::max(b.last, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return Action::kSend;
  }
  ++b.limited;
  if (options_.slip > 0 && b.limited % options_.slip == 0) return Action::kSlip;
  return Action::kDrop;
}

}  // namespace holdfast::dns
