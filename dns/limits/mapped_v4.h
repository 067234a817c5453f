// The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 section
// 2.5.5.2): a dual-stack socket sees IPv4 clients so, and every per-client limit must count them
// as the IPv4 clients they are.
#ifndef HOLDFAST_DNS_LIMITS_MAPPED_V4_H_
#define HOLDFAST_DNS_LIMITS_MAPPED_V4_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

namespace holdfast::dns {

inline std::optional<std::array<uint8_t, 4>> MappedV4(const std::array<uint8_t, 16>& address) {
  constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!std::equal(kMapped.begin(), kMapped.end(), address.begin())) return std::nullopt;
  return std::array<uint8_t, 4>{address[12], address[13], address[14], address[15]};
}

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_LIMITS_MAPPED_V4_H_
