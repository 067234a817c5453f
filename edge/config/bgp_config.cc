#include "edge/config/bgp_config.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/cat.h"
#include "common/proto_time.h"

namespace holdfast::edge {
namespace {

// The node's first address of `family`, in config order.
std::optional<net::IpAddress> FirstAddress(const std::vector<net::IpAddress>& addresses,
                                           net::Family family) {
  for (const net::IpAddress& a : addresses) {
    if (a.family() == family) return a;
  }
  return std::nullopt;
}

bool SamePeer(const bgp::PeerConfig& a, const bgp::PeerConfig& b) {
  return a.address == b.address && a.port == b.port && a.asn == b.asn &&
         a.hold_time == b.hold_time && a.connect_retry == b.connect_retry &&
         a.passive == b.passive && a.local_address == b.local_address && a.ttl == b.ttl &&
         a.max_prefixes == b.max_prefixes && a.max_prefixes_teardown == b.max_prefixes_teardown &&
         a.max_prefixes_idle_hold == b.max_prefixes_idle_hold &&
         a.graceful_restart.has_value() == b.graceful_restart.has_value() &&
         (!a.graceful_restart ||
          (a.graceful_restart->enabled == b.graceful_restart->enabled &&
           a.graceful_restart->restart_time == b.graceful_restart->restart_time &&
           a.graceful_restart->forwarding_preserved == b.graceful_restart->forwarding_preserved));
}

bool SameBfd(const bfd::PeerConfig& a, const bfd::PeerConfig& b) {
  return a.local == b.local && a.peer == b.peer && a.multihop == b.multihop &&
         a.interval == b.interval && a.multiplier == b.multiplier;
}

bool SameAnnouncement(const bgp::Announcement& a, const bgp::Announcement& b) {
  return a.prefix == b.prefix && a.next_hop == b.next_hop &&
         a.ipv6_link_local == b.ipv6_link_local && a.origin == b.origin &&
         a.as_path_prepend == b.as_path_prepend && a.communities == b.communities &&
         a.large_communities == b.large_communities && a.med == b.med &&
         a.local_pref == b.local_pref;
}

}  // namespace

absl::Status ParseCommunity(std::string_view text, std::vector<uint32_t>& communities,
                            std::vector<bgp::LargeCommunity>& large_communities) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(text.data(), text.size()), ':');
  const auto bad = [&] {
    return absl::InvalidArgumentError(Cat("'", text,
                                          "' is not a community: ASN:VALUE with 16-bit parts (RFC "
                                          "1997) or ASN:DATA1:DATA2 with 32-bit parts (RFC 8092)"));
  };
  if (parts.size() != 2 && parts.size() != 3) return bad();
  const uint64_t max = parts.size() == 2 ? std::numeric_limits<uint16_t>::max()
                                         : std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> values;
  for (absl::string_view part : parts) {
    uint64_t v = 0;
    if (part.empty() || !absl::SimpleAtoi(part, &v) || v > max) return bad();
    values.push_back(static_cast<uint32_t>(v));
  }
  if (values.size() == 2) {
    communities.push_back(
        bgp::Community(static_cast<uint16_t>(values[0]), static_cast<uint16_t>(values[1])));
  } else {
    large_communities.push_back({values[0], values[1], values[2]});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const BgpConfig>> CompileBgpConfig(const v1::Config& config,
                                                                  std::string_view node) {
  const v1::Pop* pop = nullptr;
  const v1::Node* self = nullptr;
  for (const v1::Pop& p : config.pops()) {
    for (const v1::Node& n : p.nodes()) {
      if (n.name() == node) {
        pop = &p;
        self = &n;
      }
    }
  }
  if (self == nullptr) return absl::NotFoundError(Cat("no POP has a node named '", node, "'"));
  if (pop->bgp().peers().empty()) return std::shared_ptr<const BgpConfig>();

  std::vector<net::IpAddress> addresses;
  for (const std::string& text : self->addresses()) {
    const std::optional<net::IpAddress> a = net::IpAddress::Parse(text);
    if (!a) return absl::InvalidArgumentError(Cat("node ", node, ": not an IP address: ", text));
    addresses.push_back(*a);
  }

  auto out = std::make_shared<BgpConfig>();
  bgp::SpeakerConfig& speaker = out->speaker;
  const v1::Bgp& b = pop->bgp();
  speaker.local_asn = b.local_asn();
  if (!b.router_id().empty()) {
    const std::optional<net::IpAddress> id = net::IpAddress::Parse(b.router_id());
    if (!id || !id->is_v4()) {
      return absl::InvalidArgumentError(
          Cat("pop ", pop->name(), ": bgp.router_id ", b.router_id(), " is not an IPv4 address"));
    }
    speaker.router_id = *id;
  } else if (const std::optional<net::IpAddress> v4 = FirstAddress(addresses, net::Family::kV4)) {
    speaker.router_id = *v4;
  } else {
    // RFC 4271 section 4.2: the BGP identifier is 32 bits; an IPv6-only node has none to take.
    return absl::InvalidArgumentError(Cat("pop ", pop->name(), ", node ", node,
                                          ": no BGP router id: set bgp.router_id or give the node "
                                          "an IPv4 address"));
  }
  speaker.graceful_restart.enabled = false;  // unless a peer has it (below)
  // The speaker connects out and does not listen: the config names no port for it, and port
  // 179 needs privileges. Peers see our connections come from the node's own address.
  for (const v1::BgpPeer& p : b.peers()) {
    bgp::PeerConfig peer;
    const std::optional<net::IpAddress> address = net::IpAddress::Parse(p.address());
    if (!address) {
      return absl::InvalidArgumentError(
          Cat("pop ", pop->name(), ": bgp peer ", p.address(), " is not an IP address"));
    }
    peer.address = *address;
    peer.port = static_cast<uint16_t>(p.port());
    peer.asn = p.asn();
    peer.hold_time = static_cast<uint16_t>(p.hold_time().seconds());
    peer.local_address = FirstAddress(addresses, address->family());
    // RFC 4271 leaves it to configuration; as routers do, a directly connected eBGP peer gets
    // TTL 1 and any other the kernel's default.
    peer.ttl = speaker.local_asn != peer.asn && !p.multihop() ? 1 : 0;
    peer.max_prefixes = p.max_prefixes();
    peer.max_prefixes_teardown = p.max_prefixes_teardown();
    peer.connect_retry = std::chrono::seconds(p.connect_retry().seconds());
    const v1::GracefulRestart& gr = p.graceful_restart();
    bgp::GracefulRestartConfig graceful;
    graceful.enabled = !gr.has_enabled() || gr.enabled();
    graceful.restart_time = static_cast<uint16_t>(gr.restart_time().seconds());
    graceful.forwarding_preserved = !gr.has_forwarding_preserved() || gr.forwarding_preserved();
    peer.graceful_restart = graceful;
    // The process restarts as a whole: it says so (R bit) to every peer if to any.
    speaker.graceful_restart.enabled = speaker.graceful_restart.enabled || graceful.enabled;
    if (p.has_bfd()) {
      if (!peer.local_address) {
        return absl::InvalidArgumentError(Cat("pop ", pop->name(), ", node ", node,
                                              ": no address of the family of BGP peer ",
                                              p.address(), " to run BFD from"));
      }
      bfd::PeerConfig session;
      session.local = *peer.local_address;
      session.peer = *address;
      session.multihop = p.bfd().has_multihop() ? p.bfd().multihop() : p.multihop();
      session.interval = std::chrono::microseconds(
          absl::ToInt64Microseconds(FromProtoDuration(p.bfd().interval())));
      session.multiplier = static_cast<uint8_t>(p.bfd().multiplier());
      out->bfd.push_back(session);
    }
    speaker.peers.push_back(std::move(peer));
  }

  for (int i = 0; i < pop->announce_size(); ++i) {
    const v1::Announcement& an = pop->announce(i);
    const v1::Prefix* prefix = nullptr;
    for (const v1::Prefix& p : config.prefixes()) {
      if (p.name() == an.prefix()) prefix = &p;
    }
    if (prefix == nullptr) {
      return absl::InvalidArgumentError(
          Cat("pop ", pop->name(), ": announces unknown prefix '", an.prefix(), "'"));
    }
    absl::StatusOr<bgp::Prefix> parsed = bgp::Prefix::Parse(prefix->cidr());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          Cat("prefix ", prefix->name(), ": ", std::string(parsed.status().message())));
    }
    bgp::Announcement a;
    a.prefix = *parsed;
    const net::Family family = parsed->afi == bgp::Afi::kIpv4 ? net::Family::kV4 : net::Family::kV6;
    std::optional<net::IpAddress> next_hop = FirstAddress(addresses, family);
    if (!next_hop && family == net::Family::kV6) {
      // An IPv6 prefix from a node with only IPv4 addresses (over an IPv4 session): its
      // IPv4-mapped address (RFC 4291 section 2.5.5.2), as 6PE does (RFC 4798 section 3). The
      // validator accepts such a config, so the edge must serve it rather than refuse it.
      if (const std::optional<net::IpAddress> v4 = FirstAddress(addresses, net::Family::kV4)) {
        next_hop = net::IpAddress::Parse("::ffff:" + v4->ToString());
      }
    }
    if (!next_hop) {
      return absl::InvalidArgumentError(Cat("pop ", pop->name(), ", node ", node,
                                            ": no next hop for prefix '", prefix->name(), "' (",
                                            prefix->cidr(), "): the node has no IPv4 address"));
    }
    a.next_hop = *next_hop;
    a.as_path_prepend = an.as_path_prepend();
    for (const std::string& c : an.communities()) {
      if (absl::Status s = ParseCommunity(c, a.communities, a.large_communities); !s.ok()) {
        return absl::InvalidArgumentError(Cat("pop ", pop->name(), ", prefix '", prefix->name(),
                                              "': ", std::string(s.message())));
      }
    }
    if (an.has_med()) a.med = an.med();
    out->announcements.push_back(std::move(a));
  }
  return std::shared_ptr<const BgpConfig>(std::move(out));
}

std::string BgpSpeakerChange(const BgpConfig* current, const BgpConfig* next) {
  if (current == nullptr && next == nullptr) return {};
  if (current == nullptr) return "BGP peers are added";
  if (next == nullptr) return "every BGP peer is removed";
  const bgp::SpeakerConfig& a = current->speaker;
  const bgp::SpeakerConfig& b = next->speaker;
  if (a.local_asn != b.local_asn)
    return Cat("the BGP ASN changes (", a.local_asn, " -> ", b.local_asn, ")");
  if (a.router_id != b.router_id) {
    return Cat("the BGP router id changes (", a.router_id.ToString(), " -> ",
               b.router_id.ToString(), ")");
  }
  if (a.peers.size() != b.peers.size()) {
    return Cat("the number of BGP peers changes (", a.peers.size(), " -> ", b.peers.size(), ")");
  }
  for (size_t i = 0; i < a.peers.size(); ++i) {
    if (!SamePeer(a.peers[i], b.peers[i])) {
      return Cat("BGP peer ", a.peers[i].address.ToString(), " changes");
    }
  }
  const std::vector<bfd::PeerConfig>& x = current->bfd;
  const std::vector<bfd::PeerConfig>& y = next->bfd;
  if (x.size() != y.size() || !std::equal(x.begin(), x.end(), y.begin(), SameBfd)) {
    return "the BFD sessions change";
  }
  return {};
}

bool SameAnnouncements(const std::vector<bgp::Announcement>& a,
                       const std::vector<bgp::Announcement>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!SameAnnouncement(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace holdfast::edge
