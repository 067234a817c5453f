// The BGP part of what one edge node runs, compiled once per config snapshot from a validated
// holdfast.v1.Config: the speaker's config (the POP's ASN and peers, this node's router id and
// source addresses) and the announcement of every prefix the POP may announce (prefix, next hop,
// AS_PATH prepends, communities, large communities, MED). edge/bgp/ puts it on the wire.
// Immutable once built; thread-safe to share.
#ifndef HOLDFAST_EDGE_CONFIG_BGP_CONFIG_H_
#define HOLDFAST_EDGE_CONFIG_BGP_CONFIG_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bfd/speaker/speaker.h"
#include "bgp/session/session.h"
#include "bgp/speaker/speaker.h"
#include "holdfast/v1/config.pb.h"

namespace holdfast::edge {

struct BgpConfig {
  bgp::SpeakerConfig speaker;
  // Every prefix of the POP's `announce` list, in that order.
  std::vector<bgp::Announcement> announcements;
  // A BFD session per peer that asks for one (peers[].bfd): from the node's address of the
  // peer's family to the peer.
  std::vector<bfd::PeerConfig> bfd;
};

// The BGP part for node `node` of `config`, which must have passed policy::LoadAndValidate
// without errors. Null when the node's POP has no BGP peers: there is nothing to run.
//   - router id: pops[].bgp.router_id, else the node's first IPv4 address;
//   - next hop of a prefix: the node's first address of the prefix's family;
//   - source address towards a peer: the node's first address of the peer's family (so a peer
//     that lists the node by that address recognizes it), else the kernel's choice; a peer with
//     BFD needs one (its BFD session runs from that address).
// NotFound when no POP has that node; InvalidArgument, naming the prefix or the field, when the
// node has no address to use as router id or as a prefix's next hop.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const BgpConfig>> CompileBgpConfig(
    const v1::Config& config, std::string_view node);

// Empty when a speaker running `current` can take `next` as it is (only the announcements
// differ); otherwise what changes (the speaker's peers, ASN or router id), for an error saying
// a restart is needed. Either may be null (no BGP).
std::string BgpSpeakerChange(const BgpConfig* current, const BgpConfig* next);

// True when `a` and `b` put the same routes with the same attributes on the wire.
bool SameAnnouncements(const std::vector<bgp::Announcement>& a,
                       const std::vector<bgp::Announcement>& b);

// "ASN:VALUE" (RFC 1997) and "ASN:DATA1:DATA2" (RFC 8092) into `communities` and
// `large_communities`. InvalidArgument naming the text when it is neither.
[[nodiscard]] absl::Status ParseCommunity(std::string_view text, std::vector<uint32_t>& communities,
                                          std::vector<bgp::LargeCommunity>& large_communities);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_CONFIG_BGP_CONFIG_H_
