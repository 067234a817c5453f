// UPDATE messages (RFC 4271 section 4.3) for IPv4 and IPv6 unicast (RFC 4760), with the path
// attributes this speaker uses, and RFC 7606 error handling on the way in.
//
// An UpdateMessage is the meaning of one UPDATE, not its layout: IPv4 and IPv6 prefixes sit in
// the same `withdrawn` and `announced` lists, and the encoder puts IPv4 into the classic fields
// and IPv6 into MP_REACH_NLRI / MP_UNREACH_NLRI. End-of-RIB (RFC 4724 section 2) is a flag.
#ifndef HOLDFAST_BGP_WIRE_UPDATE_H_
#define HOLDFAST_BGP_WIRE_UPDATE_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bgp/wire/prefix.h"
#include "common/net/ip.h"

namespace holdfast::bgp {

// Path attribute type codes (IANA) and flags (RFC 4271 section 4.3).
enum AttributeType : uint8_t {
  kAttrOrigin = 1,
  kAttrAsPath = 2,
  kAttrNextHop = 3,
  kAttrMed = 4,
  kAttrLocalPref = 5,
  kAttrAtomicAggregate = 6,
  kAttrAggregator = 7,
  kAttrCommunities = 8,
  kAttrMpReachNlri = 14,
  kAttrMpUnreachNlri = 15,
  kAttrAs4Path = 17,
  kAttrAs4Aggregator = 18,
  kAttrLargeCommunities = 32,
};
inline constexpr uint8_t kFlagOptional = 0x80;
inline constexpr uint8_t kFlagTransitive = 0x40;
inline constexpr uint8_t kFlagPartial = 0x20;
inline constexpr uint8_t kFlagExtendedLength = 0x10;

enum class Origin : uint8_t { kIgp = 0, kEgp = 1, kIncomplete = 2 };

struct AsPathSegment {
  // RFC 4271 section 4.3; 3 and 4 are the confederation types of RFC 5065.
  static constexpr uint8_t kAsSet = 1;
  static constexpr uint8_t kAsSequence = 2;
  uint8_t type = kAsSequence;
  std::vector<uint32_t> asns;
  friend bool operator==(const AsPathSegment&, const AsPathSegment&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const AsPathSegment& s) {
    return H::combine(std::move(h), s.type, s.asns);
  }
};

// RFC 1997: well-known GRACEFUL_SHUTDOWN is 65535:0 (RFC 8326 section 4).
inline constexpr uint32_t kGracefulShutdownCommunity = 0xffff0000;
inline constexpr uint32_t Community(uint16_t asn, uint16_t value) {
  return (uint32_t{asn} << 16) | value;
}

struct LargeCommunity {
  uint32_t global_admin = 0;
  uint32_t local1 = 0;
  uint32_t local2 = 0;
  friend bool operator==(const LargeCommunity&, const LargeCommunity&) = default;
  friend auto operator<=>(const LargeCommunity&, const LargeCommunity&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const LargeCommunity& c) {
    return H::combine(std::move(h), c.global_admin, c.local1, c.local2);
  }
};

// An attribute kept as bytes: unknown optional transitive ones (passed on with the Partial bit,
// RFC 4271 section 5), and ATOMIC_AGGREGATE / AGGREGATOR, which this speaker only carries.
struct RawAttribute {
  uint8_t flags = 0;  // without the Extended Length bit, which the encoder chooses
  uint8_t type = 0;
  std::vector<uint8_t> value;
  friend bool operator==(const RawAttribute&, const RawAttribute&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const RawAttribute& a) {
    return H::combine(std::move(h), a.flags, a.type, a.value);
  }
};

struct PathAttributes {
  std::optional<Origin> origin;
  // Always 4-octet ASNs; a 2-octet session is translated with AS4_PATH (RFC 6793 section 4.2).
  std::optional<std::vector<AsPathSegment>> as_path;
  std::optional<net::IpAddress> next_hop;         // NEXT_HOP, for IPv4 routes
  std::optional<net::IpAddress> ipv6_next_hop;    // MP_REACH_NLRI global address
  std::optional<net::IpAddress> ipv6_link_local;  // MP_REACH_NLRI second address (RFC 2545)
  std::optional<uint32_t> med;
  std::optional<uint32_t> local_pref;
  std::vector<uint32_t> communities;
  std::vector<LargeCommunity> large_communities;
  std::vector<RawAttribute> other;

  friend bool operator==(const PathAttributes&, const PathAttributes&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const PathAttributes& a) {
    h = HashOptional(std::move(h), a.origin);
    h = HashOptional(std::move(h), a.as_path);
    h = HashOptional(std::move(h), a.next_hop);
    h = HashOptional(std::move(h), a.ipv6_next_hop);
    h = HashOptional(std::move(h), a.ipv6_link_local);
    h = HashOptional(std::move(h), a.med);
    h = HashOptional(std::move(h), a.local_pref);
    return H::combine(std::move(h), a.communities, a.large_communities, a.other);
  }

 private:
  // Abseil 20220623 hashes std::optional only of some types; this one takes any.
  template <typename H, typename T>
  static H HashOptional(H h, const std::optional<T>& v) {
    if (!v) return H::combine(std::move(h), false);
    return H::combine(std::move(h), true, *v);
  }
};

struct UpdateMessage {
  std::vector<Prefix> withdrawn;
  std::vector<Prefix> announced;
  PathAttributes attributes;  // meaningful when `announced` is not empty
  // An End-of-RIB marker for this family; then the lists are empty.
  std::optional<AfiSafi> end_of_rib;

  friend bool operator==(const UpdateMessage&, const UpdateMessage&) = default;
};

struct CodecOptions {
  // 4-octet ASNs in AS_PATH: both sides sent the capability (RFC 6793 section 4).
  bool four_octet_as = true;
  // The peer is in another AS: LOCAL_PREF from it is discarded (RFC 7606 section 7.5).
  bool ebgp = true;
};

// What RFC 7606 says to do with a malformed but not session-fatal UPDATE.
enum class UpdateAction : uint8_t {
  kOk,
  // Section 2: a malformed attribute was dropped; the rest of the UPDATE stands.
  kAttributeDiscard,
  // Section 2: every announced prefix was moved into `withdrawn` and the attributes cleared.
  kTreatAsWithdraw,
};

struct DecodedUpdate {
  UpdateMessage update;
  UpdateAction action = UpdateAction::kOk;
  std::string reason;  // what was malformed, for the log; empty when kOk
};

// Decodes an UPDATE body (after the 19-byte header). A session-fatal error (RFC 7606 "session
// reset": unparsable NLRI or withdrawn fields, an MP_REACH/MP_UNREACH that is malformed, cut
// short by the attribute field or repeated, an unrecognized well-known attribute) is a status
// carrying the NOTIFICATION to send.
[[nodiscard]] absl::StatusOr<DecodedUpdate> DecodeUpdate(std::span<const uint8_t> body,
                                                         const CodecOptions& options);

// Encodes `update` as whole BGP messages (header included), each at most 4096 octets (RFC 4271
// section 4.1): withdrawals first, then announcements, IPv4 and IPv6 in separate messages, the
// attributes repeated in each. Fails when attributes alone do not fit or a next hop is missing.
[[nodiscard]] absl::StatusOr<std::vector<std::vector<uint8_t>>> EncodeUpdate(
    const UpdateMessage& update, const CodecOptions& options);

}  // namespace holdfast::bgp

#endif  // HOLDFAST_BGP_WIRE_UPDATE_H_
