#include "dns/service/service_state.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "common/cat.h"
#include "dns/wire/name.h"

namespace holdfast::dns {

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
