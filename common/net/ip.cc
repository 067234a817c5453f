#include "common/net/ip.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace holdfast::net {

std::optional<IpAddress> IpAddress::Parse(absl::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest IPv6 text form is 45 characters.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (text.find(':') == absl::string_view::npos) {
    if (inet_pton(AF_INET, buf, a.bytes_.data()) != 1) return std::nullopt;
    a.family_ = Family::kV4;
  } else {
    if (inet_pton(AF_INET6, buf, a.bytes_.data()) != 1) return std::nullopt;
    a.family_ = Family::kV6;
  }
  return a;
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes_[0] == 127;
  static constexpr std::array<uint8_t, 16> kV6Loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                       0, 0, 0, 0, 0, 0, 0, 1};
  return bytes_ == kV6Loopback;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  const char* s = inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof(buf));
  return s != nullptr ? std::string(s) : std::string();
}

absl::StatusOr<IpPrefix> IpPrefix::Parse(absl::string_view text) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a prefix: expected ADDRESS/LENGTH"));
  }
  std::optional<IpAddress> address = IpAddress::Parse(text.substr(0, slash));
  if (!address) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text.substr(0, slash), "' is not an IPv4 or IPv6 address"));
  }
  int length = 0;
  const absl::string_view len_text = text.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 3 || !absl::SimpleAtoi(len_text, &length) ||
      length < 0 || length > address->bit_length()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", len_text, "' is not a prefix length (0..", address->bit_length(), ")"));
  }
  IpPrefix p;
  p.address_ = *address;
  p.length_ = length;
  for (int i = length; i < address->bit_length(); ++i) {
    if (address->bit(i)) {
      IpPrefix network = p;
      for (int j = length; j < address->bit_length(); ++j) {
        network.address_.bytes_[j / 8] &= static_cast<uint8_t>(~(0x80u >> (j % 8)));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' has host bits set; the network is ", network.ToString()));
    }
  }
  return p;
}

bool IpPrefix::Contains(const IpAddress& a) const {
  if (a.family() != family()) return false;
  const auto& x = a.bytes();
  const auto& y = address_.bytes();
  const int whole = length_ / 8;
  if (std::memcmp(x.data(), y.data(), static_cast<size_t>(whole)) != 0) return false;
  const int rest = length_ % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff00u >> rest);
  return (x[whole] & mask) == (y[whole] & mask);
}

bool IpPrefix::Overlaps(const IpPrefix& other) const {
  return length_ <= other.length_ ? Contains(other.address_) : other.Contains(address_);
}

std::string IpPrefix::ToString() const { return absl::StrCat(address_.ToString(), "/", length_); }

}  // namespace holdfast::net
