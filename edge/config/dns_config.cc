#include "edge/config/dns_config.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "common/cat.h"
#include "common/net/ip.h"
#include "dns/wire/name.h"

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

struct PopVips {
  const v1::Pop* pop;
  std::vector<net::IpAddress> vips;
};

// The config's VIPs for a service, by POP in config order.
absl::StatusOr<std::vector<PopVips>> ConfigVips(const v1::Config& config,
                                                const v1::ServiceName& service) {
  std::vector<PopVips> out;
  for (const v1::Pop& pop : config.pops()) {
    PopVips entry{&pop, {}};
    for (const v1::Announcement& an : pop.announce()) {
      if (std::find(service.prefixes().begin(), service.prefixes().end(), an.prefix()) ==
          service.prefixes().end()) {
        continue;
      }
      for (const std::string& vip : an.vips()) {
        const std::optional<net::IpAddress> ip = net::IpAddress::Parse(vip);
        if (!ip.has_value()) {
          return absl::InvalidArgumentError(Cat("pop ", pop.name(), ": bad vip '", vip, "'"));
        }
        entry.vips.push_back(*ip);
      }
    }
    if (!entry.vips.empty()) out.push_back(std::move(entry));
  }
  return out;
}

dns::ServiceAnswers Base(const v1::ServiceName& service, std::string name) {
  dns::ServiceAnswers a;
  a.name = std::move(name);
  a.ttl = service.ttl();
  a.max_records = service.max_records();
  return a;
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

absl::StatusOr<std::shared_ptr<const dns::ServiceState>> ServiceStateFromConfig(
    const v1::Config& config) {
  return ServiceStateFromPlan(config, v1::Plan());
}

absl::StatusOr<std::shared_ptr<const dns::ServiceState>> ServiceStateFromPlan(
    const v1::Config& config, const v1::Plan& plan) {
  absl::flat_hash_map<std::string, const v1::Plan::ServicePlan*> planned;
  for (const v1::Plan::ServicePlan& sp : plan.services()) {
    absl::StatusOr<std::string> name = dns::NameFromText(sp.name());
    if (name.ok()) planned[dns::LowerName(*name)] = &sp;
  }
  std::vector<dns::ServiceAnswers> out;
  for (const v1::ServiceName& service : config.dns().services()) {
    absl::StatusOr<std::string> name = dns::NameFromText(service.name());
    if (!name.ok()) {
      return absl::InvalidArgumentError(Cat("service '", service.name(), "': bad name"));
    }
    absl::StatusOr<std::vector<PopVips>> pops = ConfigVips(config, service);
    if (!pops.ok()) return pops.status();
    dns::ServiceAnswers answers = Base(service, *name);

    auto it = planned.find(dns::LowerName(*name));
    const v1::Plan::ServicePlan* sp = it == planned.end() ? nullptr : it->second;
    // Serving (address, pop) pairs of the plan, with their weights.
    absl::flat_hash_set<std::pair<std::string, std::string>> seen;
    if (sp != nullptr) {
      for (const v1::Plan::Answer& a : sp->answers()) {
        const std::optional<net::IpAddress> ip = net::IpAddress::Parse(a.address());
        if (!ip.has_value()) {
          return absl::InvalidArgumentError(
              Cat("plan: service ", sp->name(), ": bad address '", a.address(), "'"));
        }
        answers.candidates.push_back(
            dns::ServiceCandidate{*ip, a.pop(), a.weight(), a.weight() > 0});
        seen.emplace(ip->ToString(), a.pop());
      }
    }
    for (const PopVips& p : *pops) {
      for (const net::IpAddress& ip : p.vips) {
        if (seen.contains(std::make_pair(ip.ToString(), p.pop->name()))) continue;
        // Without a plan for the name every POP serves; with one, the plan leaves it out.
        answers.candidates.push_back(
            dns::ServiceCandidate{ip, p.pop->name(), p.pop->capacity_weight(), sp == nullptr});
      }
    }

    // The floor set: the best-ranked POPs, as the governor ranks them for the floor.
    std::vector<const PopVips*> ranked;
    for (const PopVips& p : *pops) ranked.push_back(&p);
    std::stable_sort(ranked.begin(), ranked.end(), [](const PopVips* a, const PopVips* b) {
      if (a->pop->preference() != b->pop->preference()) {
        return a->pop->preference() < b->pop->preference();
      }
      return a->pop->capacity_weight() > b->pop->capacity_weight();
    });
    size_t keep = ranked.size();
    if (sp != nullptr && sp->floor() > 0) keep = std::min<size_t>(keep, sp->floor());
    for (size_t i = 0; i < keep; ++i) {
      for (const net::IpAddress& ip : ranked[i]->vips) {
        answers.floor.push_back(dns::ServiceCandidate{ip, ranked[i]->pop->name(),
                                                      ranked[i]->pop->capacity_weight(), true});
      }
    }
    out.push_back(std::move(answers));
  }
  return dns::ServiceState::Create(std::move(out));
}

absl::StatusOr<std::shared_ptr<const dns::DnsData>> CompileDnsData(const v1::Config& config) {
  auto zones = CompileZones(config.dns());
  if (!zones.ok()) return zones.status();
  auto services = ServiceStateFromConfig(config);
  if (!services.ok()) return services.status();
  return std::make_shared<const dns::DnsData>(
      dns::DnsData{*std::move(zones), *std::move(services)});
}

}  // namespace holdfast::edge
