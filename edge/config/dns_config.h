// The DNS part of what one edge node runs, compiled once per config snapshot (and per plan)
// from a validated holdfast.v1.Config: the zones (dns::ZoneSet) and what service names answer
// with (dns::ServiceState). dns/ knows no schema; this is where the schema meets it. Both
// holdfast-edge and holdfast-dns compile through here. Pure: no I/O, no Asio. What it returns
// is immutable once built; thread-safe to share.
#ifndef HOLDFAST_EDGE_CONFIG_DNS_CONFIG_H_
#define HOLDFAST_EDGE_CONFIG_DNS_CONFIG_H_

#include <memory>

#include "absl/status/statusor.h"
#include "dns/answer/engine.h"
#include "dns/service/service_state.h"
#include "dns/zone/zone_set.h"
#include "holdfast/v1/config.pb.h"
#include "holdfast/v1/plan.pb.h"

namespace holdfast::edge {

// The zones of `dns` (zones[] as dns::ZoneSpec, field for field), with every services[] name a
// service node of the zone it falls in: dns::ZoneSet::Compile. InvalidArgument, naming the zone
// or the service, for anything the validator should have refused (bad names or addresses, a
// record type left unspecified, a record outside its zone, a service name in no zone).
[[nodiscard]] absl::StatusOr<std::shared_ptr<const dns::ZoneSet>> CompileZones(const v1::Dns& dns);

// Every POP with VIPs for a name serves it, at its capacity_weight; the floor set is all of
// them. InvalidArgument for references the validator should have refused.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const dns::ServiceState>> ServiceStateFromConfig(
    const v1::Config& config);

// The plan's service answers serve (weight > 0; a draining POP has weight zero); the
// config's other VIPs for the name are candidates that do not serve. The floor set is the
// `floor` best-ranked POPs (lowest preference, then highest capacity_weight), every POP when
// the plan's floor is zero. Names in the config but not in the plan answer as
// ServiceStateFromConfig. InvalidArgument for references the validator should have refused, or
// a plan's answer whose address does not parse.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const dns::ServiceState>> ServiceStateFromPlan(
    const v1::Config& config, const v1::Plan& plan);

// What the DNS listeners answer from before there is a plan: CompileZones and
// ServiceStateFromConfig together.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const dns::DnsData>> CompileDnsData(
    const v1::Config& config);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_CONFIG_DNS_CONFIG_H_
