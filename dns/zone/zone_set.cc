#include "dns/zone/zone_set.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "common/cat.h"
#include "common/net/ip.h"
#include "dns/wire/message.h"
#include "dns/wire/name.h"

namespace holdfast::dns {
namespace {

// A name in a record's data or the SOA: fully qualified with or without the final dot.
absl::StatusOr<std::string> AbsoluteName(const std::string& text) { return NameFromText(text); }

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

absl::Status Invalid(std::string_view zone, std::string_view what) {
  return absl::InvalidArgumentError(Cat("zone ", zone, ": ", what));
}

absl::StatusOr<RRset> RecordData(const RecordSpec& r, std::string& rdata) {
  RRset set;
  switch (r.type) {
    case RecordType::kA:
    case RecordType::kAaaa: {
      const std::optional<net::IpAddress> ip = net::IpAddress::Parse(r.value);
      const bool want_v4 = r.type == RecordType::kA;
      if (!ip.has_value() || ip->is_v4() != want_v4) {
        return absl::InvalidArgumentError(
            Cat("'", r.value, "' is not an IPv", want_v4 ? 4 : 6, " address"));
      }
      set.type = want_v4 ? kTypeA : kTypeAaaa;
      rdata = want_v4 ? ARdata(ip->bytes()) : AaaaRdata(ip->bytes());
      break;
    }
    case RecordType::kCname:
    case RecordType::kNs: {
      absl::StatusOr<std::string> target = AbsoluteName(r.value);
      if (!target.ok()) return target.status();
      set.type = r.type == RecordType::kCname ? kTypeCname : kTypeNs;
      rdata = *std::move(target);
      break;
    }
    case RecordType::kMx: {
      absl::StatusOr<std::string> exchange = AbsoluteName(r.value);
      if (!exchange.ok()) return exchange.status();
      if (r.priority > 0xffff) return absl::InvalidArgumentError("MX priority over 65535");
      set.type = kTypeMx;
      rdata = MxRdata(static_cast<uint16_t>(r.priority), *exchange);
      break;
    }
    case RecordType::kTxt:
      set.type = kTypeTxt;
      rdata = TxtRdata(r.value);
      // RDLENGTH is 16 bits (RFC 1035 section 3.2.1).
      if (rdata.size() > 0xffff) return absl::InvalidArgumentError("TXT data over 65535 octets");
      break;
    default:
      return absl::InvalidArgumentError(Cat("record type ", static_cast<int>(r.type)));
  }
  return set;
}

// Adds `rdata` to the node's RRset of `type`. All records of an RRset share one TTL (RFC 2181
// section 5.2): the lowest configured wins. Duplicates are dropped (RFC 2181 section 5).
void AddRecord(ZoneNode& node, uint16_t type, uint32_t ttl, std::string rdata) {
  for (RRset& set : node.rrsets) {
    if (set.type != type) continue;
    set.ttl = std::min(set.ttl, ttl);
    if (std::find(set.rdatas.begin(), set.rdatas.end(), rdata) == set.rdatas.end()) {
      set.rdatas.push_back(std::move(rdata));
    }
    return;
  }
  node.rrsets.push_back(RRset{type, ttl, {std::move(rdata)}});
}

// The node of `name` (lowered: `key`), creating it and every missing ancestor up to the apex
// as empty non-terminals.
ZoneNode& NodeFor(Zone& zone, const std::string& name) {
  const std::string key = LowerName(name);
  auto [it, inserted] = zone.nodes.try_emplace(key);
  if (inserted) {
    it->second.name = name;
    std::string_view parent = ParentName(name);
    while (parent.size() > zone.apex.size()) {
      const std::string pkey = LowerName(parent);
      auto [pit, pinserted] = zone.nodes.try_emplace(pkey);
      if (!pinserted) break;
      pit->second.name = std::string(parent);
      parent = ParentName(parent);
    }
  }
  // A rehash may have moved the first node: look it up again.
  return zone.nodes.find(key)->second;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ZoneSet>> ZoneSet::Compile(
    const std::vector<ZoneSpec>& zones, const std::vector<std::string>& service_names) {
  auto set = std::make_shared<ZoneSet>();
  for (const ZoneSpec& z : zones) {
    Zone zone;
    absl::StatusOr<std::string> apex = AbsoluteName(z.apex);
    if (!apex.ok()) return Invalid(z.apex, Msg(apex.status()));
    zone.apex = LowerName(*apex);
    if (set->by_apex_.contains(zone.apex)) return Invalid(z.apex, "listed twice");

    absl::StatusOr<std::string> mname = AbsoluteName(z.soa.mname);
    absl::StatusOr<std::string> rname = AbsoluteName(z.soa.rname);
    if (!mname.ok() || !rname.ok()) return Invalid(z.apex, "bad SOA mname or rname");
    const SoaSpec& soa = z.soa;
    zone.soa_ttl = z.ttl;
    zone.soa_rdata =
        SoaRdata(*mname, *rname, soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum);
    zone.negative_ttl = std::min(z.ttl, soa.minimum);

    ZoneNode& apex_node = NodeFor(zone, *apex);
    AddRecord(apex_node, kTypeSoa, z.ttl, zone.soa_rdata);
    for (const std::string& ns : z.ns) {
      absl::StatusOr<std::string> target = AbsoluteName(ns);
      if (!target.ok()) return Invalid(z.apex, Cat("ns '", ns, "': ", Msg(target.status())));
      AddRecord(NodeFor(zone, *apex), kTypeNs, z.ttl, *std::move(target));
    }

    for (const RecordSpec& r : z.records) {
      // Owners are relative to the apex unless they end with a dot (policy/validate).
      absl::StatusOr<std::string> owner = NameFromText(r.owner, *apex);
      if (!owner.ok()) return Invalid(z.apex, Cat("record '", r.owner, "': bad owner"));
      if (!IsSubdomain(*owner, zone.apex)) {
        return Invalid(z.apex, Cat("record '", r.owner, "' is outside the zone"));
      }
      std::string rdata;
      absl::StatusOr<RRset> data = RecordData(r, rdata);
      if (!data.ok()) {
        return Invalid(z.apex, Cat("record '", r.owner, "': ", Msg(data.status())));
      }
      const uint32_t ttl = r.ttl.value_or(z.ttl);
      ZoneNode& node = NodeFor(zone, *owner);
      AddRecord(node, data->type, ttl, std::move(rdata));
      if (data->type == kTypeNs && !NameEquals(*owner, zone.apex)) node.delegation = true;
    }
    set->by_apex_.emplace(zone.apex, set->zones_.size());
    set->zones_.push_back(std::move(zone));
  }

  for (const std::string& service : service_names) {
    absl::StatusOr<std::string> name = AbsoluteName(service);
    if (!name.ok()) {
      return absl::InvalidArgumentError(Cat("service '", service, "': bad name"));
    }
    const Zone* found = set->FindZone(LowerName(*name));
    if (found == nullptr) {
      return absl::InvalidArgumentError(Cat("service '", service, "' is in none of the zones"));
    }
    Zone& zone = set->zones_[set->by_apex_.at(found->apex)];
    NodeFor(zone, *name).service = true;
  }
  return std::shared_ptr<const ZoneSet>(std::move(set));
}

const Zone* ZoneSet::FindZone(std::string_view lower_name) const {
  // Walk up from the name itself: the first apex met is the longest one.
  std::string_view name = lower_name;
  for (;;) {
    auto it = by_apex_.find(absl::string_view(name.data(), name.size()));
    if (it != by_apex_.end()) return &zones_[it->second];
    if (name.empty() || name[0] == '\0') return nullptr;
    name = ParentName(name);
  }
}

}  // namespace holdfast::dns
