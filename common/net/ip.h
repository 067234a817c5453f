// IP addresses and prefixes (IPv4 and IPv6) as plain values: parsing, formatting, containment.
// Pure and allocation-free apart from ToString(); safe to use from any thread.
#ifndef HOLDFAST_COMMON_NET_IP_H_
#define HOLDFAST_COMMON_NET_IP_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace holdfast::net {

enum class Family : uint8_t { kV4, kV6 };

// An IPv4 or IPv6 address. IPv4 occupies the first 4 bytes of `bytes()`.
class IpAddress {
 public:
  IpAddress() = default;

  // Parses dotted-quad IPv4 or RFC 4291 text IPv6 (no zone index, no brackets).
  [[nodiscard]] static std::optional<IpAddress> Parse(absl::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kV4; }
  // Address length in bits: 32 or 128.
  int bit_length() const { return is_v4() ? 32 : 128; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // Bit `i` counted from the most significant bit of the first byte.
  bool bit(int i) const { return ((bytes_[i / 8] >> (7 - i % 8)) & 1) != 0; }
  bool is_loopback() const;

  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.family_, a.bytes_);
  }

 private:
  friend class IpPrefix;
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

// A network: an address and a prefix length, host bits zero.
class IpPrefix {
 public:
  // Parses "ADDRESS/LENGTH". Errors name what is wrong, including host bits set
  // ("192.0.2.1/24 has host bits set; the network is 192.0.2.0/24").
  [[nodiscard]] static absl::StatusOr<IpPrefix> Parse(absl::string_view text);

  const IpAddress& address() const { return address_; }
  int length() const { return length_; }
  Family family() const { return address_.family(); }

  bool Contains(const IpAddress& a) const;
  // True when the two networks share any address (one contains the other).
  bool Overlaps(const IpPrefix& other) const;

  std::string ToString() const;

  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;

 private:
  IpAddress address_;
  int length_ = 0;
};

}  // namespace holdfast::net

#endif  // HOLDFAST_COMMON_NET_IP_H_
