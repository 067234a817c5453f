#include "bgp/wire/prefix.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace holdfast::bgp {

absl::StatusOr<Prefix> Prefix::Parse(absl::string_view text) {
  absl::StatusOr<net::IpPrefix> p = net::IpPrefix::Parse(text);
  if (!p.ok()) return p.status();
  return FromNet(*p);
}

Prefix Prefix::FromNet(const net::IpPrefix& p) {
  Prefix out;
  out.afi = p.address().is_v4() ? Afi::kIpv4 : Afi::kIpv6;
  out.length = static_cast<uint8_t>(p.length());
  out.bytes = p.address().bytes();
  return out;
}

net::IpPrefix Prefix::ToNet() const {
  // common/net has no constructor from bytes; the text round trip is exact.
  return *net::IpPrefix::Parse(ToString());
}

std::string Prefix::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  const char* s = inet_ntop(afi == Afi::kIpv4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf));
  return absl::StrCat(s != nullptr ? s : "?", "/", length);
}

std::optional<net::IpAddress> AddressFromBytes(std::span<const uint8_t> bytes) {
  if (bytes.size() != 4 && bytes.size() != 16) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(bytes.size() == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf)) ==
      nullptr) {
    return std::nullopt;
  }
  return net::IpAddress::Parse(buf);
}

}  // namespace holdfast::bgp
