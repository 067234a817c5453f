// The DNS part of what one edge node runs, compiled once per config snapshot from a validated
// holdfast.v1.Config: the zones (dns::ZoneSet). dns/'s zones know no schema; this is where the
// schema meets them. Both holdfast-edge and holdfast-dns compile through here. Pure: no I/O, no
// Asio. What it returns is immutable once built; thread-safe to share.
#ifndef HOLDFAST_EDGE_CONFIG_DNS_CONFIG_H_
#define HOLDFAST_EDGE_CONFIG_DNS_CONFIG_H_

#include <memory>

#include "absl/status/statusor.h"
#include "dns/zone/zone_set.h"
#include "holdfast/v1/config.pb.h"

namespace holdfast::edge {

// The zones of `dns` (zones[] as dns::ZoneSpec, field for field), with every services[] name a
// service node of the zone it falls in: dns::ZoneSet::Compile. InvalidArgument, naming the zone
// or the service, for anything the validator should have refused (bad names or addresses, a
// record type left unspecified, a record outside its zone, a service name in no zone).
[[nodiscard]] absl::StatusOr<std::shared_ptr<const dns::ZoneSet>> CompileZones(const v1::Dns& dns);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_CONFIG_DNS_CONFIG_H_
