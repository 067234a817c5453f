// The zones holdfast is authoritative for, compiled once per config snapshot from plain zone
// specs (ZoneSpec: edge/config/dns_config.h builds them from holdfast.v1.Dns) into lookup
// tables keyed by lowered wire names, then frozen.
//
// Names in the specs: a zone's apex, NS/MX/CNAME targets and SOA names are fully qualified
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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace holdfast::dns {

// The record types a zone may configure.
enum class RecordType { kA, kAaaa, kCname, kTxt, kMx, kNs };

// One configured record, as text.
struct RecordSpec {
  // Owner name: relative to the zone, "@" for the apex, or fully qualified with a trailing dot.
  std::string owner;
  RecordType type = RecordType::kA;
  // Unset means the zone's ttl.
  std::optional<uint32_t> ttl;
  // The data: an address for A and AAAA, a name for CNAME, NS and MX, text for TXT.
  std::string value;
  // MX preference; at most 65535.
  uint32_t priority = 0;
};

// The zone's SOA (RFC 1035 section 3.3.13). The defaults are the config schema's.
struct SoaSpec {
  // Primary server name.
  std::string mname;
  // Mailbox of the responsible person, as a domain name (hostmaster.example.net).
  std::string rname;
  uint32_t serial = 1;
  uint32_t refresh = 3600;
  uint32_t retry = 600;
  uint32_t expire = 604800;
  // TTL of negative answers (RFC 2308).
  uint32_t minimum = 300;
};

struct ZoneSpec {
  // The zone's apex, fully qualified or not ("example.net" and "example.net." are the same);
  // errors name the zone by it, as written.
  std::string apex;
  SoaSpec soa;
  // Names of the zone's authoritative servers (NS records at the apex).
  std::vector<std::string> ns;
  // TTL of the SOA, the apex NS records and every record that gives none.
  uint32_t ttl = 3600;
  std::vector<RecordSpec> records;
};

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
  // Compiles validated config: `zones`, and `service_names` (GSLB names, fully qualified with
  // or without the trailing dot), each of which becomes a service node of the zone it falls
  // in. InvalidArgument, naming the zone or the service, for anything the validator should
  // have refused (bad names or addresses, a zone listed twice, a record outside its zone, MX
  // priority or TXT data too large, a service name in no zone).
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const ZoneSet>> Compile(
      const std::vector<ZoneSpec>& zones, const std::vector<std::string>& service_names);

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
