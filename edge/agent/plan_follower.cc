#include "edge/agent/plan_follower.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bgp/wire/prefix.h"
#include "bgp/wire/update.h"
#include "edge/config/dns_config.h"

namespace holdfast::edge {

absl::StatusOr<Planned> FollowPlan(const EdgeConfig& config, const v1::Plan& plan) {
  Planned out;
  auto services = ServiceStateFromPlan(*config.source, plan);
  if (!services.ok()) return services.status();
  out.dns = std::make_shared<const dns::DnsData>(dns::DnsData{config.dns->zones, *services});
  if (config.bgp == nullptr) return out;

  // This POP's decision per prefix, by the prefix's address (the plan names prefixes).
  std::map<std::string, const v1::Plan::PopDecision*> decisions;
  for (const v1::Plan::PrefixPlan& p : plan.prefixes()) {
    for (const v1::Prefix& prefix : config.source->prefixes()) {
      if (prefix.name() != p.prefix()) continue;
      for (const v1::Plan::PopDecision& d : p.pops()) {
        const absl::StatusOr<bgp::Prefix> parsed = bgp::Prefix::Parse(prefix.cidr());
        if (parsed.ok() && d.pop() == config.pop) decisions[parsed->ToString()] = &d;
      }
    }
  }
  auto bgp = std::make_shared<BgpConfig>(*config.bgp);
  std::vector<bgp::Announcement> kept;
  for (bgp::Announcement a : bgp->announcements) {
    const auto it = decisions.find(a.prefix.ToString());
    if (it != decisions.end()) {
      const v1::Plan::PopDecision& d = *it->second;
      if (d.state() == v1::Plan::WITHDRAWN) continue;
      if (d.state() == v1::Plan::DRAINING) a.communities.push_back(bgp::kGracefulShutdownCommunity);
      if (d.depreferred()) a.as_path_prepend += d.as_path_prepend();
    }
    kept.push_back(std::move(a));
  }
  bgp->announcements = std::move(kept);
  out.bgp = std::move(bgp);
  return out;
}

}  // namespace holdfast::edge
