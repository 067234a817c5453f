#include "dns/service/service_state.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "common/cat.h"
#include "dns/wire/name.h"

namespace holdfast::dns {
namespace {

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

ServiceAnswers Base(const v1::ServiceName& service, std::string name) {
  ServiceAnswers a;
  a.name = std::move(name);
  a.ttl = service.ttl();
  a.max_records = service.max_records();
  return a;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ServiceState>> ServiceState::Create(
    std::vector<ServiceAnswers> services) {
  auto state = std::make_shared<ServiceState>();
  for (size_t i = 0; i < services.size(); ++i) {
    const ServiceAnswers& s = services[i];
    if (s.max_records == 0) {
      return absl::InvalidArgumentError(Cat("service ", NameToText(s.name), ": max_records 0"));
    }
    if (!state->by_name_.emplace(LowerName(s.name), i).second) {
      return absl::InvalidArgumentError(Cat("service ", NameToText(s.name), " listed twice"));
    }
  }
  state->services_ = std::move(services);
  return std::shared_ptr<const ServiceState>(std::move(state));
}

absl::StatusOr<std::shared_ptr<const ServiceState>> ServiceState::FromConfig(
    const v1::Config& config) {
  return FromPlan(config, v1::Plan());
}

absl::StatusOr<std::shared_ptr<const ServiceState>> ServiceState::FromPlan(const v1::Config& config,
                                                                           const v1::Plan& plan) {
  absl::flat_hash_map<std::string, const v1::Plan::ServicePlan*> planned;
  for (const v1::Plan::ServicePlan& sp : plan.services()) {
    absl::StatusOr<std::string> name = NameFromText(sp.name());
    if (name.ok()) planned[LowerName(*name)] = &sp;
  }
  std::vector<ServiceAnswers> out;
  for (const v1::ServiceName& service : config.dns().services()) {
    absl::StatusOr<std::string> name = NameFromText(service.name());
    if (!name.ok()) {
      return absl::InvalidArgumentError(Cat("service '", service.name(), "': bad name"));
    }
    absl::StatusOr<std::vector<PopVips>> pops = ConfigVips(config, service);
    if (!pops.ok()) return pops.status();
    ServiceAnswers answers = Base(service, *name);

    auto it = planned.find(LowerName(*name));
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
        answers.candidates.push_back(ServiceCandidate{*ip, a.pop(), a.weight(), a.weight() > 0});
        seen.emplace(ip->ToString(), a.pop());
      }
    }
    for (const PopVips& p : *pops) {
      for (const net::IpAddress& ip : p.vips) {
        if (seen.contains(std::make_pair(ip.ToString(), p.pop->name()))) continue;
        // Without a plan for the name every POP serves; with one, the plan leaves it out.
        answers.candidates.push_back(
            ServiceCandidate{ip, p.pop->name(), p.pop->capacity_weight(), sp == nullptr});
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
        answers.floor.push_back(
            ServiceCandidate{ip, ranked[i]->pop->name(), ranked[i]->pop->capacity_weight(), true});
      }
    }
    out.push_back(std::move(answers));
  }
  return Create(std::move(out));
}

const ServiceAnswers* ServiceState::Find(std::string_view name) const {
  auto it = by_name_.find(LowerName(name));
  return it == by_name_.end() ? nullptr : &services_[it->second];
}

ServiceSelection SelectAddresses(const ServiceAnswers& service, net::Family family,
                                 absl::FunctionRef<uint64_t()> random) {
  ServiceSelection out;
  struct Pick {
    const net::IpAddress* address;
    uint64_t weight;
  };
  std::vector<Pick> pool;
  for (const ServiceCandidate& c : service.candidates) {
    if (c.serving && c.weight > 0 && c.address.family() == family) {
      pool.push_back({&c.address, c.weight});
    }
  }
  if (pool.empty()) {
    // Nothing serves: answer with the floor set rather than nothing (fail open). Weights still
    // spread the load, but a zero weight must not empty the answer.
    for (const ServiceCandidate& c : service.floor) {
      if (c.address.family() == family) {
        pool.push_back({&c.address, std::max<uint64_t>(c.weight, 1)});
      }
    }
    out.fail_open = !pool.empty();
  }
  const size_t n = std::min<size_t>(pool.size(), service.max_records);
  out.addresses.reserve(n);
  uint64_t total = 0;
  for (const Pick& p : pool) total += p.weight;
  // Weighted choice without replacement: draw one in proportion to its weight, remove it,
  // draw again from the rest. POPs of one anycast prefix often share a VIP: an address
  // drawn once leaves the pool with all its copies, so an answer never repeats an address.
  while (out.addresses.size() < n && !pool.empty()) {
    uint64_t r = random() % total;
    size_t i = 0;
    while (r >= pool[i].weight) r -= pool[i++].weight;
    const net::IpAddress chosen = *pool[i].address;
    out.addresses.push_back(chosen);
    for (size_t j = 0; j < pool.size();) {
      if (*pool[j].address == chosen) {
        total -= pool[j].weight;
        pool[j] = pool.back();
        pool.pop_back();
      } else {
        ++j;
      }
    }
  }
  return out;
}

}  // namespace holdfast::dns
