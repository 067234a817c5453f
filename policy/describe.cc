#include "policy/describe.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "policy/safety/floor.h"

namespace holdfast::policy {
namespace {

std::string Duration(const google::protobuf::Duration& d) {
  return absl::FormatDuration(FromProtoDuration(d));
}

std::string FloorText(const EffectiveFloor& f, size_t eligible) {
  return absl::StrFormat("floor %d of %d POPs (min_pops %d, min_fraction %g%s)",
                         FloorCount(f, static_cast<uint32_t>(eligible)), eligible, f.min_pops,
                         f.min_fraction, f.allow_zero ? ", zero allowed" : "");
}

}  // namespace

std::string DescribeConfig(const v1::Config& c) {
  std::string out;
  size_t nodes = 0;
  std::map<std::string, std::vector<const v1::Pop*>> by_region;
  for (const v1::Pop& pop : c.pops()) {
    by_region[pop.region()].push_back(&pop);
    nodes += static_cast<size_t>(pop.nodes_size());
  }
  absl::StrAppendFormat(&out,
                        "%d POPs in %d regions, %d nodes, %d prefixes, %d service names, "
                        "%d listeners, %d routes, %d clusters\n",
                        c.pops_size(), by_region.size(), nodes, c.prefixes_size(),
                        c.dns().services_size(), c.listeners_size(), c.routes_size(),
                        c.clusters_size());

  out += "\nPOPs by region\n";
  for (const auto& [region, pops] : by_region) {
    absl::StrAppend(&out, "  ", region, "\n");
    for (const v1::Pop* pop : pops) {
      std::vector<std::string> node_text;
      for (const v1::Node& n : pop->nodes()) {
        node_text.push_back(absl::StrCat(n.name(), " (", absl::StrJoin(n.addresses(), ", "), ")"));
      }
      absl::StrAppendFormat(&out, "    %-10s weight %-5d nodes: %s\n", pop->name(),
                            pop->capacity_weight(), absl::StrJoin(node_text, ", "));
    }
  }

  out += "\nPrefixes and who may announce them\n";
  for (const v1::Prefix& p : c.prefixes()) {
    std::vector<std::string> who;
    for (const v1::Pop& pop : c.pops()) {
      for (const v1::Announcement& an : pop.announce()) {
        if (an.prefix() != p.name()) continue;
        who.push_back(an.vips().empty() ? pop.name()
                                        : absl::StrCat(pop.name(), " (VIPs ",
                                                       absl::StrJoin(an.vips(), ", "), ")"));
      }
    }
    absl::StrAppendFormat(&out, "  %-10s %-20s %s%s\n", p.name(), p.cidr(),
                          FloorText(PrefixFloor(c, p), who.size()), p.shared() ? ", shared" : "");
    absl::StrAppend(&out, "    announced by: ", who.empty() ? "nobody" : absl::StrJoin(who, ", "),
                    "\n");
  }

  out += "\nService names\n";
  if (c.dns().services().empty()) out += "  none\n";
  for (const v1::ServiceName& s : c.dns().services()) {
    std::set<std::string> pops;
    std::set<std::string> regions;
    for (const v1::Pop& pop : c.pops()) {
      for (const v1::Announcement& an : pop.announce()) {
        for (const std::string& prefix : s.prefixes()) {
          if (an.prefix() == prefix && !an.vips().empty()) {
            pops.insert(pop.name());
            regions.insert(pop.region());
          }
        }
      }
    }
    absl::StrAppendFormat(&out, "  %s -> %s, ttl %ds, up to %d records, %s\n", s.name(),
                          absl::StrJoin(s.prefixes(), " + "), s.ttl(), s.max_records(),
                          FloorText(ServiceFloor(c, s), pops.size()));
    absl::StrAppend(&out, "    served by: ", pops.empty() ? "nobody" : absl::StrJoin(pops, ", "),
                    "; regions: ", regions.empty() ? "none" : absl::StrJoin(regions, ", "), "\n");
  }
  if (!c.dns().zones().empty()) {
    std::vector<std::string> zones;
    for (const v1::Zone& z : c.dns().zones()) {
      zones.push_back(absl::StrCat(z.name(), " (", z.records_size(), " records)"));
    }
    absl::StrAppend(&out, "  zones: ", absl::StrJoin(zones, ", "), "\n");
  }

  const v1::Safety& s = c.safety();
  out += "\nSafety\n";
  absl::StrAppendFormat(&out, "  default floor: min_pops %d, min_fraction %g%s\n",
                        s.default_floor().min_pops(), s.default_floor().min_fraction(),
                        s.default_floor().allow_zero() ? ", zero allowed" : "");
  absl::StrAppendFormat(&out, "  health-driven withdrawals: at most %d per %s\n",
                        s.withdrawal_rate().max_withdrawals(),
                        Duration(s.withdrawal_rate().window()));
  absl::StrAppendFormat(&out,
                        "  correlated failure: more than %g%% of POPs unhealthy within %s freezes "
                        "withdrawals\n",
                        s.correlated_failure().fraction() * 100,
                        Duration(s.correlated_failure().window()));
  std::vector<std::string> waves;
  for (const v1::RolloutWave& w : s.rollout().waves()) {
    waves.push_back(w.pops().empty()
                        ? absl::StrFormat("%s (%g%% of POPs)", w.name(), w.fraction() * 100)
                        : absl::StrCat(w.name(), " (", absl::StrJoin(w.pops(), ", "), ")"));
  }
  absl::StrAppend(&out, "  rollout: ",
                  waves.empty() ? "one canary POP, then everyone" : absl::StrJoin(waves, ", then "),
                  "; bake time ", Duration(s.rollout().bake_time()), " per wave\n");
  return out;
}

}  // namespace holdfast::policy
