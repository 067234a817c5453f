#include "bgp/wire/update.h"

#include <algorithm>
#include <bitset>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bgp/wire/message.h"
#include "bgp/wire/notification.h"
#include "common/bytes/byte_reader.h"
#include "common/bytes/byte_writer.h"

namespace holdfast::bgp {

namespace {

absl::Status UpdateError(uint8_t subcode, absl::string_view why, std::vector<uint8_t> data = {}) {
  return NotificationError({kUpdateMessageError, subcode, std::move(data)}, why);
}

// Reads prefixes in the <length, prefix> encoding of RFC 4271 section 4.3 until `r` is empty.
// Bits past the length are cleared: RFC 4271 says they are irrelevant, and clearing them makes
// equal networks compare equal. A length beyond the family or a truncated prefix is an NLRI
// syntax error, which RFC 7606 section 5.3 makes a session reset.
absl::Status ReadPrefixes(ByteReader& r, Afi afi, std::vector<Prefix>& out) {
  const int max_len = afi == Afi::kIpv4 ? 32 : 128;
  while (!r.empty()) {
    Prefix p;
    p.afi = afi;
    p.length = r.U8();
    if (p.length > max_len) {
      return UpdateError(kInvalidNetworkField, absl::StrCat("prefix length ", p.length));
    }
    const size_t n = (p.length + 7u) / 8;
    std::span<const uint8_t> b = r.Bytes(n);
    if (!r.ok()) return UpdateError(kInvalidNetworkField, "prefix overruns its field");
    std::copy(b.begin(), b.end(), p.bytes.begin());
    if (p.length % 8 != 0) p.bytes[n - 1] &= static_cast<uint8_t>(0xff << (8 - p.length % 8));
    out.push_back(p);
  }
  return absl::OkStatus();
}

void WritePrefix(VectorByteWriter& w, const Prefix& p) {
  w.U8(p.length);
  w.Bytes(std::span<const uint8_t>(p.bytes.data(), (p.length + 7u) / 8));
}

size_t PrefixWireSize(const Prefix& p) { return 1 + (p.length + 7u) / 8; }

// RFC 4271 section 4.3 with RFC 6793: segments of (type, count, ASNs of 2 or 4 octets).
// Returns false when malformed (RFC 7606 section 7.2: unknown type, zero count, overrun).
bool ReadAsPath(std::span<const uint8_t> value, bool four_octet, std::vector<AsPathSegment>& out) {
  ByteReader r(value);
  while (!r.empty()) {
    AsPathSegment seg;
    seg.type = r.U8();
    const uint8_t count = r.U8();
    if (!r.ok() || seg.type < 1 || seg.type > 4 || count == 0) return false;
    for (int i = 0; i < count; ++i) seg.asns.push_back(four_octet ? r.U32() : r.U16());
    if (!r.ok()) return false;
    out.push_back(std::move(seg));
  }
  return true;
}

// RFC 7607 section 2: AS 0 is reserved; a path that holds it anywhere is malformed.
bool HasAsZero(const std::vector<AsPathSegment>& path) {
  return std::any_of(path.begin(), path.end(), [](const AsPathSegment& s) {
    return std::find(s.asns.begin(), s.asns.end(), 0u) != s.asns.end();
  });
}

void WriteAsPath(VectorByteWriter& w, const std::vector<AsPathSegment>& path, bool four_octet) {
  for (const AsPathSegment& seg : path) {
    // A segment holds at most 255 ASNs; longer ones are split into several of the same type.
    for (size_t start = 0; start < seg.asns.size(); start += 255) {
      const size_t n = std::min<size_t>(255, seg.asns.size() - start);
      w.U8(seg.type);
      w.U8(static_cast<uint8_t>(n));
      for (size_t i = start; i < start + n; ++i) {
        const uint32_t a = seg.asns[i];
        if (four_octet) {
          w.U32(a);
        } else {
          w.U16(a > 0xffff ? kAsTrans : static_cast<uint16_t>(a));
        }
      }
    }
  }
}

size_t PathLength(const std::vector<AsPathSegment>& path) {
  size_t n = 0;
  for (const AsPathSegment& s : path) n += s.type == AsPathSegment::kAsSet ? 1 : s.asns.size();
  return n;
}

// RFC 6793 section 4.2.3: an OLD-style AS_PATH with AS_TRANS is rebuilt from AS4_PATH: keep the
// leading ASNs of AS_PATH that AS4_PATH does not cover, then append AS4_PATH. If AS4_PATH is
// longer than AS_PATH it is ignored.
std::vector<AsPathSegment> MergeAs4Path(const std::vector<AsPathSegment>& as_path,
                                        const std::vector<AsPathSegment>& as4_path) {
  const size_t n = PathLength(as_path);
  const size_t m = PathLength(as4_path);
  if (m > n) return as_path;
  size_t keep = n - m;
  std::vector<AsPathSegment> out;
  for (const AsPathSegment& s : as_path) {
    if (keep == 0) break;
    if (s.type == AsPathSegment::kAsSet) {
      out.push_back(s);
      --keep;
      continue;
    }
    AsPathSegment part{s.type, {}};
    for (uint32_t a : s.asns) {
      if (keep == 0) break;
      part.asns.push_back(a);
      --keep;
    }
    out.push_back(std::move(part));
  }
  out.insert(out.end(), as4_path.begin(), as4_path.end());
  return out;
}

// The flags RFC 4271 section 5 gives each attribute this codec knows: Optional and Transitive.
std::optional<uint8_t> ExpectedFlags(uint8_t type) {
  switch (type) {
    case kAttrOrigin:
    case kAttrAsPath:
    case kAttrNextHop:
    case kAttrLocalPref:
    case kAttrAtomicAggregate:
      return kFlagTransitive;
    case kAttrMed:
    case kAttrMpReachNlri:
    case kAttrMpUnreachNlri:
      return kFlagOptional;
    case kAttrAggregator:
    case kAttrCommunities:
    case kAttrAs4Path:
    case kAttrAs4Aggregator:
    case kAttrLargeCommunities:
      return kFlagOptional | kFlagTransitive;
    default:
      return std::nullopt;
  }
}

// Collects the result of one UPDATE: the worst RFC 7606 action wins.
struct Outcome {
  UpdateAction action = UpdateAction::kOk;
  std::string reason;

  void Discard(std::string why) {
    if (action == UpdateAction::kOk) action = UpdateAction::kAttributeDiscard;
    Note(std::move(why));
  }
  void Withdraw(std::string why) {
    action = UpdateAction::kTreatAsWithdraw;
    Note(std::move(why));
  }
  void Note(std::string why) {
    if (!reason.empty()) reason += "; ";
    reason += why;
  }
};

std::optional<AfiSafi> FamilyOf(uint16_t afi, uint8_t safi) {
  if (safi != static_cast<uint8_t>(Safi::kUnicast)) return std::nullopt;
  if (afi == 1) return kIpv4Unicast;
  if (afi == 2) return kIpv6Unicast;
  return std::nullopt;
}

// RFC 4760 section 3, with RFC 2545 section 3 for the IPv6 next hop (global, or global and
// link-local). Any error is a session reset (RFC 7606 section 7.11).
absl::Status DecodeMpReach(std::span<const uint8_t> value, UpdateMessage& u,
                           std::vector<Prefix>& announced) {
  ByteReader r(value);
  const uint16_t afi = r.U16();
  const uint8_t safi = r.U8();
  const uint8_t nh_len = r.U8();
  std::span<const uint8_t> nh = r.Bytes(nh_len);
  r.U8();  // reserved (RFC 4760 section 3)
  if (!r.ok()) return UpdateError(kOptionalAttributeError, "MP_REACH_NLRI truncated");
  const std::optional<AfiSafi> family = FamilyOf(afi, safi);
  // RFC 4760 section 7: an AFI/SAFI that was not negotiated is ignored.
  if (!family) return absl::OkStatus();
  PathAttributes& a = u.attributes;
  if (*family == kIpv4Unicast) {
    if (nh_len != 4) return UpdateError(kOptionalAttributeError, "MP_REACH_NLRI IPv4 next hop");
    if (!a.next_hop) a.next_hop = AddressFromBytes(nh);
    return ReadPrefixes(r, Afi::kIpv4, announced);
  }
  if (nh_len != 16 && nh_len != 32) {
    return UpdateError(kOptionalAttributeError, "MP_REACH_NLRI IPv6 next hop length");
  }
  a.ipv6_next_hop = AddressFromBytes(nh.subspan(0, 16));
  if (nh_len == 32) a.ipv6_link_local = AddressFromBytes(nh.subspan(16, 16));
  return ReadPrefixes(r, Afi::kIpv6, announced);
}

absl::Status DecodeMpUnreach(std::span<const uint8_t> value, std::vector<Prefix>& withdrawn,
                             std::optional<AfiSafi>& family_out) {
  ByteReader r(value);
  const uint16_t afi = r.U16();
  const uint8_t safi = r.U8();
  if (!r.ok()) return UpdateError(kOptionalAttributeError, "MP_UNREACH_NLRI truncated");
  family_out = FamilyOf(afi, safi);
  if (!family_out) return absl::OkStatus();
  return ReadPrefixes(r, family_out->afi == 1 ? Afi::kIpv4 : Afi::kIpv6, withdrawn);
}

}  // namespace

absl::StatusOr<DecodedUpdate> DecodeUpdate(std::span<const uint8_t> body,
                                           const CodecOptions& options) {
  DecodedUpdate out;
  UpdateMessage& u = out.update;
  PathAttributes& a = u.attributes;
  Outcome outcome;

  ByteReader r(body);
  const uint16_t withdrawn_len = r.U16();
  std::span<const uint8_t> withdrawn_field = r.Bytes(withdrawn_len);
  const uint16_t attrs_len = r.U16();
  std::span<const uint8_t> attrs_field = r.Bytes(attrs_len);
  // RFC 4271 section 6.3: lengths that overrun the message are a Malformed Attribute List, and
  // RFC 7606 section 5.3 keeps that a session reset: the NLRI cannot be located.
  if (!r.ok()) return UpdateError(kMalformedAttributeList, "UPDATE field lengths overrun");
  std::span<const uint8_t> nlri_field = r.Rest();

  std::vector<Prefix> mp_withdrawn;
  std::vector<Prefix> mp_announced;
  {
    ByteReader w(withdrawn_field);
    absl::Status s = ReadPrefixes(w, Afi::kIpv4, u.withdrawn);
    if (!s.ok()) return s;
  }

  std::bitset<256> seen;
  std::optional<std::vector<AsPathSegment>> as4_path;
  std::optional<AfiSafi> unreach_family;
  bool saw_mp_unreach = false;
  int attr_count = 0;
  ByteReader ar(attrs_field);
  while (!ar.empty()) {
    ++attr_count;
    const uint8_t flags = ar.U8();
    const uint8_t type = ar.U8();
    const bool type_read = ar.ok();
    const size_t len = (flags & kFlagExtendedLength) != 0 ? ar.U16() : ar.U8();
    std::span<const uint8_t> value = ar.Bytes(len);
    if (!ar.ok()) {
      // RFC 7606 section 3(j): treat-as-withdraw needs MP_REACH_NLRI and MP_UNREACH_NLRI parsed
      // whole; one the field cuts short resets the session. As treat-as-withdraw, the routes a
      // cut MP_UNREACH_NLRI withdraws would stay. RFC 4760 section 7 names the subcode.
      if (type_read && (type == kAttrMpReachNlri || type == kAttrMpUnreachNlri)) {
        return UpdateError(
            kOptionalAttributeError,
            absl::StrCat(type == kAttrMpReachNlri ? "MP_REACH_NLRI" : "MP_UNREACH_NLRI",
                         " overruns the attribute field"));
      }
      // RFC 7606 section 4: any other attribute that overruns the Path Attributes field is
      // treat-as-withdraw; the NLRI field is still located by the Total Path Attribute Length.
      outcome.Withdraw("path attribute overruns the attribute field");
      break;
    }
    const uint8_t ot = flags & (kFlagOptional | kFlagTransitive);
    // RFC 7606 section 3.g: MP_REACH_NLRI / MP_UNREACH_NLRI more than once resets the session;
    // any other attribute seen again is discarded.
    if (seen[type]) {
      if (type == kAttrMpReachNlri || type == kAttrMpUnreachNlri) {
        return UpdateError(kMalformedAttributeList, "MP_REACH/MP_UNREACH_NLRI repeated");
      }
      outcome.Discard(absl::StrCat("attribute ", type, " repeated"));
      continue;
    }
    seen[type] = true;
    const std::optional<uint8_t> expected = ExpectedFlags(type);
    if (expected && ot != *expected) {
      // RFC 7606 section 3.c: flags in conflict with the attribute's definition are malformed:
      // treat-as-withdraw, but MP attributes carry NLRI we could then not trust (section 7.11).
      if (type == kAttrMpReachNlri || type == kAttrMpUnreachNlri) {
        return UpdateError(kAttributeFlagsError, "MP attribute flags");
      }
      outcome.Withdraw(absl::StrCat("attribute ", type, " flags"));
      continue;
    }
    ByteReader v(value);
    switch (type) {
      case kAttrOrigin:
        // RFC 7606 section 7.1.
        if (len != 1 || value[0] > 2) {
          outcome.Withdraw("malformed ORIGIN");
        } else {
          a.origin = static_cast<Origin>(value[0]);
        }
        break;
      case kAttrAsPath: {
        // RFC 7606 section 7.2. RFC 7607 section 2: AS 0 in AS_PATH makes the UPDATE malformed,
        // handled as RFC 7606 says for AS_PATH: treat-as-withdraw.
        std::vector<AsPathSegment> path;
        if (!ReadAsPath(value, options.four_octet_as, path)) {
          outcome.Withdraw("malformed AS_PATH");
        } else if (HasAsZero(path)) {
          outcome.Withdraw("AS_PATH contains AS 0");
        } else {
          a.as_path = std::move(path);
        }
        break;
      }
      case kAttrNextHop:
        // RFC 7606 section 7.3.
        if (len != 4) {
          outcome.Withdraw("malformed NEXT_HOP");
        } else if (!a.next_hop) {
          a.next_hop = AddressFromBytes(value);
        }
        break;
      case kAttrMed:
        // RFC 7606 section 7.4.
        if (len != 4) {
          outcome.Withdraw("malformed MULTI_EXIT_DISC");
        } else {
          a.med = v.U32();
        }
        break;
      case kAttrLocalPref:
        // RFC 7606 section 7.5: from an external peer it is discarded whatever it holds.
        if (options.ebgp) {
          outcome.Discard("LOCAL_PREF from an external peer");
        } else if (len != 4) {
          outcome.Withdraw("malformed LOCAL_PREF");
        } else {
          a.local_pref = v.U32();
        }
        break;
      case kAttrAtomicAggregate:
        // RFC 7606 section 7.6.
        if (len != 0) {
          outcome.Discard("malformed ATOMIC_AGGREGATE");
        } else {
          a.other.push_back({static_cast<uint8_t>(flags & ~kFlagExtendedLength), type, {}});
        }
        break;
      case kAttrAggregator:
        // RFC 7606 section 7.7; 8 octets with 4-octet ASNs (RFC 6793 section 4.1). RFC 7607
        // section 2: AS 0 in AGGREGATOR is malformed too, so discarded the same way.
        if (len != (options.four_octet_as ? 8u : 6u)) {
          outcome.Discard("malformed AGGREGATOR");
        } else if ((options.four_octet_as ? v.U32() : v.U16()) == 0) {
          outcome.Discard("AGGREGATOR with AS 0");
        } else {
          a.other.push_back({static_cast<uint8_t>(flags & ~kFlagExtendedLength), type,
                             std::vector<uint8_t>(value.begin(), value.end())});
        }
        break;
      case kAttrCommunities:
        // RFC 7606 section 7.8: a non-zero multiple of 4.
        if (len == 0 || len % 4 != 0) {
          outcome.Withdraw("malformed COMMUNITIES");
        } else {
          while (!v.empty()) a.communities.push_back(v.U32());
        }
        break;
      case kAttrLargeCommunities:
        // RFC 8092 section 5: a non-zero multiple of 12, else treat-as-withdraw.
        if (len == 0 || len % 12 != 0) {
          outcome.Withdraw("malformed LARGE_COMMUNITY");
        } else {
          while (!v.empty()) {
            LargeCommunity c;
            c.global_admin = v.U32();
            c.local1 = v.U32();
            c.local2 = v.U32();
            a.large_communities.push_back(c);
          }
        }
        break;
      case kAttrMpReachNlri: {
        absl::Status s = DecodeMpReach(value, u, mp_announced);
        if (!s.ok()) return s;
        break;
      }
      case kAttrMpUnreachNlri: {
        saw_mp_unreach = true;
        absl::Status s = DecodeMpUnreach(value, mp_withdrawn, unreach_family);
        if (!s.ok()) return s;
        break;
      }
      case kAttrAs4Path:
        // RFC 6793 section 4.1: between two 4-octet speakers AS4_PATH is discarded; otherwise it
        // rebuilds AS_PATH, and a malformed one is discarded (section 6). RFC 7607 section 2:
        // AS 0 in AS4_PATH is malformed, handled as RFC 6793 says: AS_PATH stands as received.
        if (!options.four_octet_as) {
          std::vector<AsPathSegment> path;
          if (!ReadAsPath(value, true, path)) {
            outcome.Discard("malformed AS4_PATH");
          } else if (HasAsZero(path)) {
            outcome.Discard("AS4_PATH contains AS 0");
          } else {
            as4_path = std::move(path);
          }
        }
        break;
      case kAttrAs4Aggregator:
        // Carried only between 2-octet speakers; this speaker does not aggregate, so it is not
        // kept. RFC 7607 section 2 makes one with AS 0 malformed, discarded per RFC 6793
        // section 6; it is reported as such.
        if (!options.four_octet_as && len == 8 && v.U32() == 0) {
          outcome.Discard("AS4_AGGREGATOR with AS 0");
        }
        break;
      default:
        if ((flags & kFlagOptional) == 0) {
          // RFC 4271 section 6.3: the data is the unrecognized attribute (type, length, value).
          std::vector<uint8_t> data{flags, type};
          if ((flags & kFlagExtendedLength) != 0) data.push_back(static_cast<uint8_t>(len >> 8));
          data.push_back(static_cast<uint8_t>(len));
          data.insert(data.end(), value.begin(), value.end());
          return UpdateError(kUnrecognizedWellKnownAttribute, "unrecognized well-known attribute",
                             std::move(data));
        }
        // RFC 4271 section 5: an unrecognized optional transitive attribute is passed on with
        // the Partial bit set; an optional non-transitive one is quietly ignored.
        if ((flags & kFlagTransitive) != 0) {
          a.other.push_back({static_cast<uint8_t>((flags | kFlagPartial) & ~kFlagExtendedLength),
                             type, std::vector<uint8_t>(value.begin(), value.end())});
        }
        break;
    }
  }
  if (a.as_path && as4_path) a.as_path = MergeAs4Path(*a.as_path, *as4_path);
  // The encoder writes attributes in ascending type order (RFC 4271 section 5); kept attributes
  // are held in that order too, so a message re-encoded reads back the same.
  std::stable_sort(a.other.begin(), a.other.end(),
                   [](const RawAttribute& x, const RawAttribute& y) { return x.type < y.type; });

  {
    ByteReader n(nlri_field);
    absl::Status s = ReadPrefixes(n, Afi::kIpv4, u.announced);
    if (!s.ok()) return s;
  }
  const bool classic_nlri = !u.announced.empty();
  u.announced.insert(u.announced.begin(), mp_announced.begin(), mp_announced.end());
  u.withdrawn.insert(u.withdrawn.end(), mp_withdrawn.begin(), mp_withdrawn.end());

  // RFC 4724 section 2: End-of-RIB is an UPDATE with nothing in it (IPv4), or with only an
  // empty MP_UNREACH_NLRI (other families).
  if (body.size() == 4) {
    u.end_of_rib = kIpv4Unicast;
  } else if (saw_mp_unreach && unreach_family && attr_count == 1 && u.withdrawn.empty() &&
             u.announced.empty()) {
    u.end_of_rib = unreach_family;
  }

  // RFC 7606 section 3.d: without ORIGIN, AS_PATH or (for IPv4 NLRI) NEXT_HOP, treat-as-withdraw.
  if (!u.announced.empty() && outcome.action != UpdateAction::kTreatAsWithdraw) {
    if (!a.origin || !a.as_path || (classic_nlri && !a.next_hop)) {
      outcome.Withdraw("missing well-known attribute");
    }
  }
  if (outcome.action == UpdateAction::kTreatAsWithdraw) {
    u.withdrawn.insert(u.withdrawn.end(), u.announced.begin(), u.announced.end());
    u.announced.clear();
    u.attributes = PathAttributes{};
  }
  out.action = outcome.action;
  out.reason = std::move(outcome.reason);
  return out;
}

namespace {

void WriteAttribute(VectorByteWriter& w, uint8_t flags, uint8_t type,
                    std::span<const uint8_t> value) {
  if (value.size() > 255) {
    w.U8(flags | kFlagExtendedLength);
    w.U8(type);
    w.U16(static_cast<uint16_t>(value.size()));
  } else {
    w.U8(static_cast<uint8_t>(flags & ~kFlagExtendedLength));
    w.U8(type);
    w.U8(static_cast<uint8_t>(value.size()));
  }
  w.Bytes(value);
}

// All attributes but MP_REACH/MP_UNREACH, in ascending type order (RFC 4271 section 5: SHOULD).
absl::Status WriteAttributes(VectorByteWriter& w, const PathAttributes& a, const CodecOptions& o,
                             bool with_next_hop) {
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> attrs;  // type, encoded attribute
  auto add = [&](uint8_t flags, uint8_t type, const std::vector<uint8_t>& value) {
    std::vector<uint8_t> enc;
    VectorByteWriter ew(enc);
    WriteAttribute(ew, flags, type, value);
    attrs.emplace_back(type, std::move(enc));
  };
  std::vector<uint8_t> v;
  VectorByteWriter vw(v);
  if (a.origin) add(kFlagTransitive, kAttrOrigin, {static_cast<uint8_t>(*a.origin)});
  if (a.as_path) {
    v.clear();
    WriteAsPath(vw, *a.as_path, o.four_octet_as);
    add(kFlagTransitive, kAttrAsPath, v);
    // RFC 6793 section 4.2.2: to a 2-octet speaker, AS_TRANS stands in and AS4_PATH carries the
    // real path, when any ASN needs 4 octets.
    bool needs_as4 = false;
    for (const auto& s : *a.as_path) {
      for (uint32_t asn : s.asns) needs_as4 = needs_as4 || asn > 0xffff;
    }
    if (!o.four_octet_as && needs_as4) {
      v.clear();
      WriteAsPath(vw, *a.as_path, true);
      add(kFlagOptional | kFlagTransitive, kAttrAs4Path, v);
    }
  }
  if (with_next_hop && a.next_hop) {
    if (!a.next_hop->is_v4()) return absl::InvalidArgumentError("NEXT_HOP is not IPv4");
    const auto& b = a.next_hop->bytes();
    add(kFlagTransitive, kAttrNextHop, {b[0], b[1], b[2], b[3]});
  }
  auto u32 = [&](uint32_t x) {
    v.clear();
    vw.U32(x);
    return v;
  };
  if (a.med) add(kFlagOptional, kAttrMed, u32(*a.med));
  if (a.local_pref) add(kFlagTransitive, kAttrLocalPref, u32(*a.local_pref));
  if (!a.communities.empty()) {
    v.clear();
    for (uint32_t c : a.communities) vw.U32(c);
    add(kFlagOptional | kFlagTransitive, kAttrCommunities, v);
  }
  if (!a.large_communities.empty()) {
    v.clear();
    for (const LargeCommunity& c : a.large_communities) {
      vw.U32(c.global_admin);
      vw.U32(c.local1);
      vw.U32(c.local2);
    }
    add(kFlagOptional | kFlagTransitive, kAttrLargeCommunities, v);
  }
  for (const RawAttribute& r : a.other) {
    if (r.value.size() > 0xffff) return absl::InvalidArgumentError("attribute over 65535 octets");
    add(r.flags, r.type, r.value);
  }
  std::stable_sort(attrs.begin(), attrs.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [type, enc] : attrs) w.Bytes(enc);
  return absl::OkStatus();
}

constexpr size_t kMaxBody = kMaxMessageSize - kHeaderSize;

// Cuts `prefixes` into runs whose encoded size stays within `room` octets each.
std::vector<std::span<const Prefix>> Chunks(const std::vector<Prefix>& prefixes, size_t room) {
  std::vector<std::span<const Prefix>> out;
  size_t start = 0;
  size_t used = 0;
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const size_t n = PrefixWireSize(prefixes[i]);
    if (used + n > room) {
      out.emplace_back(prefixes.data() + start, i - start);
      start = i;
      used = 0;
    }
    used += n;
  }
  if (start < prefixes.size()) out.emplace_back(prefixes.data() + start, prefixes.size() - start);
  return out;
}

void WriteMpHead(VectorByteWriter& w, AfiSafi f) {
  w.U16(f.afi);
  w.U8(f.safi);
}

}  // namespace

absl::StatusOr<std::vector<std::vector<uint8_t>>> EncodeUpdate(const UpdateMessage& update,
                                                               const CodecOptions& options) {
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> body;
  VectorByteWriter w(body);

  if (update.end_of_rib) {
    if (*update.end_of_rib == kIpv4Unicast) {
      w.U16(0);
      w.U16(0);
    } else {
      std::vector<uint8_t> v;
      VectorByteWriter vw(v);
      WriteMpHead(vw, *update.end_of_rib);
      w.U16(0);
      w.U16(static_cast<uint16_t>(3 + v.size()));
      WriteAttribute(w, kFlagOptional, kAttrMpUnreachNlri, v);
    }
    out.push_back(Frame(kTypeUpdate, body));
    return out;
  }

  std::vector<Prefix> w4, w6, a4, a6;
  for (const Prefix& p : update.withdrawn) (p.afi == Afi::kIpv4 ? w4 : w6).push_back(p);
  for (const Prefix& p : update.announced) (p.afi == Afi::kIpv4 ? a4 : a6).push_back(p);

  // Withdrawn Routes field: body = 2 + W + 2.
  for (std::span<const Prefix> chunk : Chunks(w4, kMaxBody - 4)) {
    body.clear();
    const size_t at = w.size();
    w.U16(0);
    for (const Prefix& p : chunk) WritePrefix(w, p);
    w.PatchU16(at, static_cast<uint16_t>(w.size() - 2));
    w.U16(0);
    out.push_back(Frame(kTypeUpdate, body));
  }
  // MP_UNREACH_NLRI with extended length: body = 2 + 2 + 4 + 3 + W.
  for (std::span<const Prefix> chunk : Chunks(w6, kMaxBody - 11)) {
    std::vector<uint8_t> v;
    VectorByteWriter vw(v);
    WriteMpHead(vw, kIpv6Unicast);
    for (const Prefix& p : chunk) WritePrefix(vw, p);
    body.clear();
    w.U16(0);
    const size_t at = w.size();
    w.U16(0);
    WriteAttribute(w, kFlagOptional, kAttrMpUnreachNlri, v);
    w.PatchU16(at, static_cast<uint16_t>(w.size() - at - 2));
    out.push_back(Frame(kTypeUpdate, body));
  }

  const PathAttributes& a = update.attributes;
  if (!a4.empty()) {
    if (!a.next_hop) return absl::InvalidArgumentError("IPv4 routes without NEXT_HOP");
    std::vector<uint8_t> attrs;
    VectorByteWriter aw(attrs);
    absl::Status s = WriteAttributes(aw, a, options, true);
    if (!s.ok()) return s;
    if (attrs.size() + 4 + 5 > kMaxBody) return absl::InvalidArgumentError("attributes too big");
    for (std::span<const Prefix> chunk : Chunks(a4, kMaxBody - 4 - attrs.size())) {
      body.clear();
      w.U16(0);
      w.U16(static_cast<uint16_t>(attrs.size()));
      w.Bytes(attrs);
      for (const Prefix& p : chunk) WritePrefix(w, p);
      out.push_back(Frame(kTypeUpdate, body));
    }
  }
  if (!a6.empty()) {
    if (!a.ipv6_next_hop || a.ipv6_next_hop->is_v4()) {
      return absl::InvalidArgumentError("IPv6 routes without an IPv6 next hop");
    }
    if (a.ipv6_link_local && a.ipv6_link_local->is_v4()) {
      return absl::InvalidArgumentError("IPv6 link-local next hop is IPv4");
    }
    std::vector<uint8_t> attrs;
    VectorByteWriter aw(attrs);
    // RFC 4760 section 3: NEXT_HOP belongs to the IPv4 NLRI field; an IPv6-only UPDATE still
    // carries it when set, so the attributes stay those the caller gave.
    absl::Status s = WriteAttributes(aw, a, options, true);
    if (!s.ok()) return s;
    const size_t nh_len = a.ipv6_link_local ? 32 : 16;
    const size_t mp_fixed = 4 + 3 + 1 + nh_len + 1;  // header with extended length, then fields
    if (attrs.size() + 4 + mp_fixed + 17 > kMaxBody) {
      return absl::InvalidArgumentError("attributes too big");
    }
    for (std::span<const Prefix> chunk : Chunks(a6, kMaxBody - 4 - mp_fixed - attrs.size())) {
      std::vector<uint8_t> v;
      VectorByteWriter vw(v);
      WriteMpHead(vw, kIpv6Unicast);
      vw.U8(static_cast<uint8_t>(nh_len));
      vw.Bytes(a.ipv6_next_hop->bytes());
      if (a.ipv6_link_local) vw.Bytes(a.ipv6_link_local->bytes());
      vw.U8(0);
      for (const Prefix& p : chunk) WritePrefix(vw, p);
      body.clear();
      w.U16(0);
      const size_t at = w.size();
      w.U16(0);
      // RFC 7606 section 5.1: MP_REACH_NLRI SHOULD come first.
      WriteAttribute(w, kFlagOptional, kAttrMpReachNlri, v);
      w.Bytes(attrs);
      w.PatchU16(at, static_cast<uint16_t>(w.size() - at - 2));
      out.push_back(Frame(kTypeUpdate, body));
    }
  }
  return out;
}

}  // namespace holdfast::bgp
