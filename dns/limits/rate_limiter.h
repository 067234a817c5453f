// Response rate limiting (RRL) per client prefix, after the scheme of BIND and NSD: each
// prefix (/24 for IPv4, /56 for IPv6, so one host cannot dodge it by rotating addresses in its
// network) has a token bucket of responses; past it, responses are dropped, except that every
// `slip`-th limited one is sent truncated (TC=1), so a real client behind a spoofed flood
// still gets through by retrying over TCP, while a reflection attack gains nothing.
//
// Pure: time comes in as an argument. Not thread-safe: one per server (worker).
#ifndef HOLDFAST_DNS_LIMITS_RATE_LIMITER_H_
#define HOLDFAST_DNS_LIMITS_RATE_LIMITER_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace holdfast::dns {

// A client's prefix: the first 3 octets of an IPv4 address or 7 of an IPv6 address.
struct ClientKey {
  uint8_t family = 4;  // 4 or 6
  std::array<uint8_t, 7> bytes{};

  static ClientKey FromV4(const std::array<uint8_t, 4>& address);
  // An IPv4-mapped address (::ffff:a.b.c.d) is keyed as the IPv4 address.
  static ClientKey FromV6(const std::array<uint8_t, 16>& address);

  friend bool operator==(const ClientKey&, const ClientKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ClientKey& k) {
    return H::combine(std::move(h), k.family, k.bytes);
  }
};

struct RateLimitOptions {
  // Responses per second per prefix; 0 turns rate limiting off.
  uint32_t responses_per_second = 200;
  // Bucket size; 0 means one second's worth.
  uint32_t burst = 0;
  // Every slip-th limited response is sent truncated; 0 drops them all, 1 truncates them all.
  uint32_t slip = 2;
  // Prefixes tracked at once; past it the table starts afresh (a flood of prefixes must not
  // grow memory without bound).
  size_t max_clients = size_t{1} << 16;
};

class RateLimiter {
 public:
  enum class Action { kSend, kSlip, kDrop };

  explicit RateLimiter(const RateLimitOptions& options) : options_(options) {}

  bool enabled() const { return options_.responses_per_second > 0; }
  // Accounts one response to `client` at `now` and says what to do with it.
  Action Check(const ClientKey& client, std::chrono::steady_clock::time_point now);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
    uint32_t limited = 0;
  };

  RateLimitOptions options_;
  absl::flat_hash_map<ClientKey, Bucket> buckets_;
};

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_LIMITS_RATE_LIMITER_H_
