// The zones holdfast is authoritative for, compiled once per config snapshot from
// holdfast.v1.Dns into lookup tables keyed by lowered wire names, then frozen.
//
// Names in the config: a zone's apex, NS/MX/CNAME targets and SOA names are fully qualified
// with or without the trailing dot (policy/validate reads them so); record owners are
// relative to the zone unless they end with a dot, "@" is the apex, "*" as a first label is
// a wildcard (RFC 4592). Every ancestor of an owner down from the apex exists as a node, so an
// empty non-terminal answers NODATA, not NXDOMAIN (RFC 8020). NS records below the apex make a
// zone cut (a delegation); names below a cut are not answered from this zone.
//
// Immutable after Compile(); safe to share between threads.
#ifndef HOLDFAST_DNS_ZONE_ZONE_SET_H_
#define HOLDFAST_DNS_ZONE_ZONE_SET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "holdfast/v1/config.pb.h"

namespace holdfast::dns {

// The records of one owner and type, ready to copy into a response.
struct RRset {
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::vector<std::string> rdatas;  // uncompressed wire RDATA
};

struct ZoneNode {
  std::string name;  // wire form, as configured
  std::vector<RRset> rrsets;
  // NS records below the apex: the name is delegated (a referral point).
  bool delegation = false;
  // A GSLB service name: A and AAAA come from the ServiceState, not from `rrsets`.
  bool service = false;

  const RRset* Find(uint16_t type) const {
    for (const RRset& r : rrsets) {
      if (r.type == type) return &r;
    }
    return nullptr;
  }
};

struct Zone {
  std::string apex;  // wire form, lowered
  uint32_t soa_ttl = 0;
  std::string soa_rdata;
  // RFC 2308 section 5: negative answers live min(SOA TTL, SOA MINIMUM).
  uint32_t negative_ttl = 0;
  // Every owner, empty non-terminal and service name, keyed by lowered wire name.
  absl::flat_hash_map<std::string, ZoneNode> nodes;

  const ZoneNode* Find(std::string_view lower_name) const {
    auto it = nodes.find(absl::string_view(lower_name.data(), lower_name.size()));
    return it == nodes.end() ? nullptr : &it->second;
  }
};

class ZoneSet {
 public:
  // Compiles validated config. InvalidArgument for anything the validator should have
  // refused (bad names or addresses, a record outside its zone, a service name in no zone).
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const ZoneSet>> Compile(const v1::Dns& dns);

  // The zone with the longest apex at or above `lower_name` (wire, lowered), or nullptr.
  const Zone* FindZone(std::string_view lower_name) const;
  const std::vector<Zone>& zones() const { return zones_; }

 private:
  std::vector<Zone> zones_;
  // Lowered apex -> index in zones_.
  absl::flat_hash_map<std::string, size_t> by_apex_;
};

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_ZONE_ZONE_SET_H_
