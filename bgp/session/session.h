// One BGP session with one peer (RFC 4271 section 8), as a pure state machine: events in
// (start, stop, TCP up/down, bytes received, time), actions out (connect, send bytes, close,
// session up/down), the time passed in by the caller. No sockets, no clock, no logger.
//
// The session also holds the peer's Adj-RIB-In (what the peer sent, with RFC 4724 stale marks
// while it restarts) and our Adj-RIB-Out (what we want announced and what the peer has from us),
// and puts only the differences on the wire.
//
// Not thread-safe: one owner calls it (the speaker's I/O strand). Deadlines are absolute times on
// the caller's steady clock; the caller calls OnTimer() once NextDeadline() has passed.
#ifndef HOLDFAST_BGP_SESSION_SESSION_H_
#define HOLDFAST_BGP_SESSION_SESSION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "bgp/wire/message.h"
#include "common/net/ip.h"

namespace holdfast::bgp {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class State : uint8_t { kIdle, kConnect, kActive, kOpenSent, kOpenConfirm, kEstablished };
// "idle", "connect", "active", "open_sent", "open_confirm", "established".
const char* StateName(State s);

struct GracefulRestartConfig {
  bool enabled = true;
  // Seconds the peer keeps our routes while we restart (RFC 4724 section 3, at most 4095).
  uint16_t restart_time = 120;
  // Set after a restart of this process: the R bit tells the peer to keep our routes until our
  // End-of-RIB (RFC 4724 section 4.1). Only the first OPEN of each session carries it: the
  // session clears it once it has sent its End-of-RIB.
  bool restarting = false;
  // F bit for each family: the anycast service kept running, so the routes still lead somewhere.
  bool forwarding_preserved = true;
  // How long stale routes from a restarted peer wait for its End-of-RIB (RFC 4724 section 4.2).
  std::chrono::seconds stale_time{300};
};

struct SessionConfig {
  uint32_t local_asn = 0;
  uint32_t router_id = 0;  // BGP identifier, host byte order
  uint32_t peer_asn = 0;
  // Proposed hold time in seconds: 0 or at least 3 (RFC 4271 section 4.2).
  uint16_t hold_time = 90;
  std::chrono::seconds connect_retry{30};
  // Only accept connections; never connect out.
  bool passive = false;
  std::vector<AfiSafi> families = {kIpv4Unicast, kIpv6Unicast};
  GracefulRestartConfig graceful_restart;
  // Most prefixes the Adj-RIB-In may hold, both families together; 0 means no limit. One more
  // ends the session with Cease / Maximum Number of Prefixes Reached (RFC 4486 section 4), drops
  // the peer's routes, and keeps the session Idle (refusing connections, not connecting) for
  // `max_prefixes_idle_hold` before it starts again.
  uint32_t max_prefixes = 0;
  std::chrono::seconds max_prefixes_idle_hold{60};
  // False: over max_prefixes, further new prefixes from the peer are not kept (counted in
  // SessionStats::prefixes_over_limit, reported once per connection as a kUpdateError) and the
  // session stays up, our announcements with it. For a speaker whose announcements matter more
  // than what it learns: a router that leaks a full table to every anycast edge at once must
  // not make them all withdraw at once (DESIGN.md, the central invariant).
  bool max_prefixes_teardown = true;

  bool ebgp() const { return local_asn != peer_asn; }
};

// What the caller wants announced for one prefix.
struct Announcement {
  Prefix prefix;
  // Of the prefix's family; a documentation or real address, not loopback (DESIGN.md).
  net::IpAddress next_hop;
  // IPv6 only: a link-local next hop sent beside the global one (RFC 2545 section 3).
  std::optional<net::IpAddress> ipv6_link_local;
  Origin origin = Origin::kIgp;
  // Extra copies of the local ASN in AS_PATH, at most 32.
  uint32_t as_path_prepend = 0;
  std::vector<uint32_t> communities;
  std::vector<LargeCommunity> large_communities;
  std::optional<uint32_t> med;
  // iBGP only; 100 when unset (RFC 4271 section 5.1.5).
  std::optional<uint32_t> local_pref;
};

struct ReceivedRoute {
  std::shared_ptr<const PathAttributes> attributes;
  // Kept from before the peer restarted, until its End-of-RIB or the timers (RFC 4724).
  bool stale = false;
};

struct Action {
  enum class Kind : uint8_t {
    kConnect,      // open a TCP connection to the peer (drop any attempt under way)
    kSend,         // write `bytes` on the connection
    kClose,        // close the connection once what was sent before is written
    kEstablished,  // the session came up
    kDown,         // the session (or the attempt) ended; `reason` says why
    kUpdateError,  // RFC 7606 attribute-discard or treat-as-withdraw; `reason` says what
  };
  Kind kind;
  std::vector<uint8_t> bytes;
  std::string reason;
};

struct SessionStats {
  State state = State::kIdle;
  std::optional<TimePoint> established_since;
  uint32_t peer_bgp_id = 0;
  uint16_t negotiated_hold_time = 0;
  // The current connection was opened by us (false: accepted from the peer).
  bool initiated_locally = false;
  bool four_octet_as = false;
  bool peer_graceful_restart = false;
  size_t prefixes_sent = 0;      // in the peer's Adj-RIB-In from us
  size_t prefixes_received = 0;  // in our Adj-RIB-In from the peer (stale included)
  size_t prefixes_stale = 0;
  // Announced prefixes not kept because the Adj-RIB-In was full (max_prefixes_teardown false).
  uint64_t prefixes_over_limit = 0;
  uint64_t updates_received = 0;
  uint64_t updates_sent = 0;
  uint64_t established_transitions = 0;
  // NOTIFICATION messages put on the wire and received, on any connection of this session.
  uint64_t notifications_sent = 0;
  uint64_t notifications_received = 0;
  std::string last_error;  // why the session last went down; empty until then
  std::optional<NotificationMessage> last_notification_received;
  std::optional<NotificationMessage> last_notification_sent;
};

class Session {
 public:
  // The config is checked by the caller (speaker), including hold_time 0 or >= 3.
  explicit Session(SessionConfig config);

  const SessionConfig& config() const { return config_; }
  State state() const { return conn_.state; }
  // A copy with the current state and prefix counts.
  SessionStats stats() const;
  bool initiated_locally() const { return conn_.initiated_locally; }
  // The peer's BGP identifier once its OPEN arrived on this connection, else 0.
  uint32_t remote_bgp_id() const { return conn_.peer_open ? conn_.peer_open->bgp_id : 0; }

  // ManualStart (event 1): Idle -> Connect (or Active when passive); ends an idle hold.
  std::vector<Action> Start(TimePoint now);
  // ManualStop (event 2): NOTIFICATION Cease with `subcode` if a connection is up, then Idle.
  // The session stays down until Start().
  std::vector<Action> Stop(TimePoint now, uint8_t subcode = kAdministrativeShutdown);

  // TCP connection up (events 16/17): sends OPEN. Only in Idle (a passive candidate), Connect
  // or Active; otherwise the caller is resolving a collision (see KeepLocallyInitiated).
  std::vector<Action> OnConnected(TimePoint now, bool initiated_locally);
  // TCP connection failed or closed (event 18).
  std::vector<Action> OnConnectionLost(TimePoint now, const std::string& why);
  // Bytes from the connection, in any cut; complete messages are handled at once.
  std::vector<Action> OnBytes(TimePoint now, std::span<const uint8_t> bytes);
  // Timers whose deadline is at or before `now` fire.
  std::vector<Action> OnTimer(TimePoint now);
  // The earliest deadline, if any timer runs.
  std::optional<TimePoint> NextDeadline() const;

  // Connection collision (RFC 4271 section 6.8): drops this connection with Cease/Connection
  // Collision Resolution, keeping routes and announcements, and goes to Active.
  std::vector<Action> DropForCollision(TimePoint now);
  // Takes over the connection of `candidate` (a session on the other connection to the same
  // peer, in OpenConfirm), keeping this session's routes and announcements.
  void AdoptConnection(TimePoint now, Session&& candidate);

  // The desired Adj-RIB-Out: replaces the previous set; when Established only the differences
  // are sent. Announcements of a family not negotiated are kept and sent if it comes up later.
  // An announcement whose next hop is of the other family, or with more than 32 prepends, is
  // refused (a kUpdateError action). Of two announcements of one prefix the later counts.
  // O(n log n) in the size of the set (O(n) when it comes sorted by prefix); prefixes with equal
  // attributes share one UPDATE (up to 4096 octets each).
  std::vector<Action> SetAnnouncements(TimePoint now, const std::vector<Announcement>& desired);

  // Prefixes with the attributes they are announced with, sorted by prefix.
  using RibOut = std::vector<std::pair<Prefix, std::shared_ptr<const PathAttributes>>>;

  const absl::flat_hash_map<Prefix, ReceivedRoute>& adj_rib_in() const { return rib_in_; }
  // What the peer has from us (its Adj-RIB-In from us), sorted by prefix.
  const RibOut& adj_rib_out() const { return advertised_; }
  // The attributes this session puts on the wire for `a`.
  PathAttributes WireAttributes(const Announcement& a) const;

 private:
  // What belongs to one TCP connection; a collision moves it from one Session to another.
  struct Connection {
    State state = State::kIdle;
    bool initiated_locally = false;
    std::vector<uint8_t> buffer;
    std::optional<OpenMessage> peer_open;
    CodecOptions codec;
    std::vector<AfiSafi> families;  // negotiated
    uint16_t hold_time = 0;         // negotiated
    std::optional<TimePoint> hold_deadline;
    std::optional<TimePoint> keepalive_deadline;
    // The peer went over max_prefixes (without teardown) and it was reported.
    bool over_limit_reported = false;
  };

  void SendOpen(std::vector<Action>& out);
  void Send(std::vector<Action>& out, const Message& m);
  void Fail(TimePoint now, std::vector<Action>& out, NotificationMessage n, const std::string& why);
  void Down(TimePoint now, std::vector<Action>& out, const std::string& why, bool keep_stale);
  void HandleMessage(TimePoint now, std::vector<Action>& out, DecodedMessage m);
  void HandleOpen(TimePoint now, std::vector<Action>& out, const OpenMessage& open);
  void PeerOpened(TimePoint now);
  void HandleUpdate(TimePoint now, std::vector<Action>& out, const DecodedMessage& m);
  void Establish(TimePoint now, std::vector<Action>& out);
  void RestartHold(TimePoint now);
  void FlushStale(std::optional<AfiSafi> family);
  void SendDiff(std::vector<Action>& out, bool full, std::optional<AfiSafi> only);
  bool Negotiated(Afi afi) const;
  bool OverMaxPrefixes(TimePoint now, std::vector<Action>& out, AfiSafi family);

  SessionConfig config_;
  Connection conn_;
  SessionStats stats_;
  bool stopped_ = true;
  std::optional<TimePoint> connect_retry_deadline_;
  // Idle after Maximum Number of Prefixes Reached, until then (RFC 4271 section 8.1.1, the
  // IdleHoldTimer of DampPeerOscillations, used here for this one cause).
  std::optional<TimePoint> idle_hold_deadline_;
  // RFC 4724 helper: the peer's restart timer, then the wait for its End-of-RIB.
  std::optional<TimePoint> restart_deadline_;
  std::optional<TimePoint> stale_deadline_;
  std::optional<GracefulRestartCapability> peer_gr_;  // from the peer's last OPEN

  absl::flat_hash_map<Prefix, ReceivedRoute> rib_in_;
  RibOut desired_;
  RibOut advertised_;
  // One object per distinct attribute set in desired_, so equal attributes are the same pointer
  // from one SetAnnouncements to the next and the diff compares pointers, not attributes.
  absl::flat_hash_map<PathAttributes, std::shared_ptr<const PathAttributes>> interned_;
};

// RFC 4271 section 6.8: of two connections to one peer, keep the one opened by the speaker with
// the higher BGP identifier. True when the locally initiated connection stays.
inline bool KeepLocallyInitiated(uint32_t local_id, uint32_t remote_id) {
  return local_id > remote_id;
}

}  // namespace holdfast::bgp

#endif  // HOLDFAST_BGP_SESSION_SESSION_H_
