// What service names (GSLB) answer with: per name, the candidate VIPs with their POP, the
// POP's weight and whether it serves, and the floor set answered when none serves.
//
// The edge builds one from the control plane's plan (edge::ServiceStateFromPlan) or, before
// there is a plan or while the control plane is unreachable, from the config alone
// (edge::ServiceStateFromConfig: every POP serves); edge/config/dns_config.h. An edge that
// loses the control plane keeps the last one it built (serve stale, DESIGN.md rule 5).
// Immutable once built; safe to share between threads.
#ifndef HOLDFAST_DNS_SERVICE_SERVICE_STATE_H_
#define HOLDFAST_DNS_SERVICE_SERVICE_STATE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/net/ip.h"

namespace holdfast::dns {

struct ServiceCandidate {
  net::IpAddress address;
  std::string pop;
  // The POP's relative weight; zero is never chosen while another candidate serves.
  uint32_t weight = 0;
  bool serving = true;
};

struct ServiceAnswers {
  std::string name;  // wire form (any case; looked up case-insensitively)
  uint32_t ttl = 30;
  uint32_t max_records = 4;
  std::vector<ServiceCandidate> candidates;
  // Answered when no candidate of the queried family serves (fail open, DESIGN.md "no global
  // blackhole"): never an empty answer while the name has addresses of that family.
  std::vector<ServiceCandidate> floor;
};

class ServiceState {
 public:
  // InvalidArgument for a bad or repeated name, or max_records of zero.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const ServiceState>> Create(
      std::vector<ServiceAnswers> services);

  // The answers for `name` (wire form, any case), or nullptr.
  const ServiceAnswers* Find(std::string_view name) const;
  const std::vector<ServiceAnswers>& services() const { return services_; }

 private:
  std::vector<ServiceAnswers> services_;
  absl::flat_hash_map<std::string, size_t> by_name_;  // lowered wire name -> index
};

struct ServiceSelection {
  std::vector<net::IpAddress> addresses;
  // No candidate of the family served: the addresses come from the floor set.
  bool fail_open = false;
};

// Picks at most max_records addresses of `family`: a weighted random choice without
// replacement among the serving candidates with a weight above zero, or, when there is none,
// among the floor set (fail_open). `random` returns uniformly distributed 64-bit values.
// Empty only when the name has no address of that family at all.
ServiceSelection SelectAddresses(const ServiceAnswers& service, net::Family family,
                                 absl::FunctionRef<uint64_t()> random);

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_SERVICE_SERVICE_STATE_H_
