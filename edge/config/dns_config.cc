#include "edge/config/dns_config.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/cat.h"

namespace holdfast::edge {
namespace {

absl::StatusOr<dns::RecordType> ToRecordType(const v1::Zone& zone, const v1::Record& r) {
  switch (r.type()) {
    case v1::Record::TYPE_A:
      return dns::RecordType::kA;
    case v1::Record::TYPE_AAAA:
      return dns::RecordType::kAaaa;
    case v1::Record::TYPE_CNAME:
      return dns::RecordType::kCname;
    case v1::Record::TYPE_TXT:
      return dns::RecordType::kTxt;
    case v1::Record::TYPE_MX:
      return dns::RecordType::kMx;
    case v1::Record::TYPE_NS:
      return dns::RecordType::kNs;
    default:
      // Worded as dns::ZoneSet::Compile words its other record errors.
      return absl::InvalidArgumentError(Cat("zone ", zone.name(), ": record '", r.name(),
                                            "': record type ", static_cast<int>(r.type())));
  }
}

absl::StatusOr<dns::ZoneSpec> ToZoneSpec(const v1::Zone& z) {
  dns::ZoneSpec spec;
  spec.apex = z.name();
  const v1::Soa& soa = z.soa();
  spec.soa = dns::SoaSpec{soa.mname(), soa.rname(),  soa.serial(), soa.refresh(),
                          soa.retry(), soa.expire(), soa.minimum()};
  spec.ns.assign(z.ns().begin(), z.ns().end());
  spec.ttl = z.ttl();
  spec.records.reserve(static_cast<size_t>(z.records_size()));
  for (const v1::Record& r : z.records()) {
    absl::StatusOr<dns::RecordType> type = ToRecordType(z, r);
    if (!type.ok()) return type.status();
    dns::RecordSpec& record = spec.records.emplace_back();
    record.owner = r.name();
    record.type = *type;
    if (r.has_ttl()) record.ttl = r.ttl();
    record.value = r.value();
    record.priority = r.priority();
  }
  return spec;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const dns::ZoneSet>> CompileZones(const v1::Dns& dns) {
  std::vector<dns::ZoneSpec> zones;
  zones.reserve(static_cast<size_t>(dns.zones_size()));
  for (const v1::Zone& z : dns.zones()) {
    absl::StatusOr<dns::ZoneSpec> spec = ToZoneSpec(z);
    if (!spec.ok()) return spec.status();
    zones.push_back(*std::move(spec));
  }
  std::vector<std::string> service_names;
  service_names.reserve(static_cast<size_t>(dns.services_size()));
  for (const v1::ServiceName& s : dns.services()) service_names.push_back(s.name());
  return dns::ZoneSet::Compile(zones, service_names);
}

}  // namespace holdfast::edge
