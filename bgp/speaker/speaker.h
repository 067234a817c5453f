// The BGP speaker the edge embeds: one Session (bgp/session) per configured peer, driven over TCP
// on a caller-provided Asio io_context. It connects out (and retries), accepts connections from
// its peers, resolves connection collisions (RFC 4271 section 6.8), runs the timers, and puts
// the caller's announcements on the wire, only the changes.
//
// Threading: the speaker's own work runs on the io_context; run that io_context on one thread.
// SetAnnouncements, Drain, Undrain, WithdrawAll and Stop may be called from any thread (they
// post to the io_context); Status() may be called from any thread at any time (a snapshot under
// a mutex); ReceivedRoutes() from any thread but the io_context's own.
//
// Lifetime: destroying the speaker closes its sockets without NOTIFICATION, as a crash would.
// Destroy it only while its io_context is not running, and do not run that io_context again.
#ifndef HOLDFAST_BGP_SPEAKER_SPEAKER_H_
#define HOLDFAST_BGP_SPEAKER_SPEAKER_H_

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bgp/session/session.h"
#include "common/net/ip.h"

namespace holdfast::bgp {

struct PeerConfig {
  net::IpAddress address;
  uint16_t port = 179;
  uint32_t asn = 0;
  // Proposed hold time in seconds: 0 or at least 3 (RFC 4271 section 4.2).
  uint16_t hold_time = 90;
  std::chrono::seconds connect_retry{30};
  // Only accept this peer's connections; never connect out.
  bool passive = false;
  // Source address of outgoing connections; unset lets the kernel choose.
  std::optional<net::IpAddress> local_address;
  // IP TTL (IPv6 hop limit) of the session's packets, on outgoing connections (set before the
  // connect) and on accepted ones; 0 leaves the kernel default. 255 for a peer that checks it
  // (GTSM, RFC 5082: BIRD's `ttl security yes`).
  uint8_t ttl = 0;
  // Most prefixes the peer may have in our Adj-RIB-In, IPv4 and IPv6 together; 0 means no limit.
  // Over it the session ends with Cease / Maximum Number of Prefixes Reached (RFC 4486), the
  // peer's routes are dropped, and the session stays idle for `max_prefixes_idle_hold`.
  uint32_t max_prefixes = 100000;
  std::chrono::seconds max_prefixes_idle_hold{60};
  // False: over the limit, further prefixes are not kept and the session stays up (see
  // SessionConfig::max_prefixes_teardown).
  bool max_prefixes_teardown = true;
  // Graceful restart towards this peer (enabled, restart time, F bit, stale time); unset: the
  // speaker's. `restarting` is always the speaker's.
  std::optional<GracefulRestartConfig> graceful_restart;
};

struct SpeakerConfig {
  uint32_t local_asn = 0;
  // BGP identifier (RFC 4271 section 4.2), conventionally an IPv4 address of the node.
  net::IpAddress router_id;
  // Where to accept connections from peers; port 0 means do not listen.
  net::IpAddress listen_address;
  uint16_t listen_port = 0;
  std::vector<PeerConfig> peers;
  // For peers that have none of their own; `restarting` for all.
  GracefulRestartConfig graceful_restart;
};

struct DrainOptions {
  // Extra copies of the local ASN, on top of each announcement's own prepends.
  uint32_t extra_prepend = 0;
};

struct PeerStatus {
  std::string address;  // the peer's address, also the `peer=` of log lines
  uint32_t asn = 0;
  State state = State::kIdle;
  // Time since the session came up; unset unless Established.
  std::optional<std::chrono::seconds> uptime;
  SessionStats stats;
};

class Speaker {
 public:
  // Checks the config (ASNs, identifier, hold times, unique peers). Does no I/O.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Speaker>> Create(asio::io_context& io,
                                                                       SpeakerConfig config);
  ~Speaker();
  Speaker(const Speaker&) = delete;
  Speaker& operator=(const Speaker&) = delete;

  // Binds the listener (when configured) and starts every session. Call once, before the
  // io_context runs or on its thread. Fails when the listener cannot be bound.
  [[nodiscard]] absl::Status Start();

  // The desired announcements, for every peer; replaces the previous set. While drained, they
  // go out with GRACEFUL_SHUTDOWN and the drain prepends.
  void SetAnnouncements(std::vector<Announcement> announcements);
  // RFC 8326: re-announces everything with the GRACEFUL_SHUTDOWN community (65535:0) and the
  // extra prepends, so the peers move traffic away before the caller withdraws.
  void Drain(DrainOptions options = {});
  void Undrain();
  // Withdraws every announcement (the desired set becomes empty).
  void WithdrawAll();
  // The session with the peer at `address` ends at once, as if its connection had broken, and
  // starts again after the connect retry time: for a failure found elsewhere (BFD, RFC 5882
  // section 4.3), where the peer is beyond reach of a NOTIFICATION. Unknown peers are ignored.
  void ResetPeer(const net::IpAddress& address, const std::string& why);
  // Graceful shutdown: Cease / Administrative Shutdown to every peer (RFC 4486), connections
  // closed once written, no reconnects. `done` runs on the io_context when all is written.
  void Stop(std::function<void()> done = {});

  std::vector<PeerStatus> Status() const;
  // The Adj-RIB-In of the peer at `address`, sorted by prefix; empty for an unknown peer or when
  // the io_context does not answer within 5 s.
  std::vector<std::pair<Prefix, ReceivedRoute>> ReceivedRoutes(const net::IpAddress& address);

 private:
  struct Impl;
  Speaker(asio::io_context& io, SpeakerConfig config);

  SpeakerConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdfast::bgp

#endif  // HOLDFAST_BGP_SPEAKER_SPEAKER_H_
