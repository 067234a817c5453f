// Address families and NLRI prefixes as the BGP codec carries them (RFC 4271 section 4.3,
// RFC 4760 section 5). A Prefix is a plain value: comparable, hashable, host bits always zero.
#ifndef HOLDFAST_BGP_WIRE_PREFIX_H_
#define HOLDFAST_BGP_WIRE_PREFIX_H_

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/net/ip.h"

namespace holdfast::bgp {

// Address Family Identifiers (IANA) and the one SAFI this speaker uses (RFC 4760 section 6).
enum class Afi : uint16_t { kIpv4 = 1, kIpv6 = 2 };
enum class Safi : uint8_t { kUnicast = 1 };

struct AfiSafi {
  uint16_t afi = 0;
  uint8_t safi = 0;
  friend bool operator==(const AfiSafi&, const AfiSafi&) = default;
  friend auto operator<=>(const AfiSafi&, const AfiSafi&) = default;
};
inline constexpr AfiSafi kIpv4Unicast{1, 1};
inline constexpr AfiSafi kIpv6Unicast{2, 1};

// An IPv4 or IPv6 network: `length` significant bits of `bytes`, the rest zero.
struct Prefix {
  Afi afi = Afi::kIpv4;
  uint8_t length = 0;
  std::array<uint8_t, 16> bytes{};

  // "192.0.2.0/24" or "2001:db8::/32"; host bits must be zero.
  [[nodiscard]] static absl::StatusOr<Prefix> Parse(absl::string_view text);
  static Prefix FromNet(const net::IpPrefix& p);
  net::IpPrefix ToNet() const;
  std::string ToString() const;
  int max_length() const { return afi == Afi::kIpv4 ? 32 : 128; }

  friend bool operator==(const Prefix&, const Prefix&) = default;
  friend auto operator<=>(const Prefix&, const Prefix&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Prefix& p) {
    return H::combine(std::move(h), p.afi, p.length, p.bytes);
  }
};

// An address from its wire bytes: 4 for IPv4, 16 for IPv6; nullopt for any other size.
std::optional<net::IpAddress> AddressFromBytes(std::span<const uint8_t> bytes);

}  // namespace holdfast::bgp

#endif  // HOLDFAST_BGP_WIRE_PREFIX_H_
