// The node's BGP speaker (bgp/speaker) and what it announces: every prefix of the POP's
// `announce` list while the node serves, updated on each config snapshot (only the changes go on
// the wire: the speaker diffs), then on shutdown GRACEFUL_SHUTDOWN (RFC 8326), the withdrawal of
// everything, and Cease to every peer.
//
// Threading: the speaker runs on an io_context of its own, on its own thread. The daemon's main
// loop blocks while it loads and compiles a config (validation, TLS keys: a large config takes a
// good fraction of a second) and sleeps through the drain; keepalives and hold timers (down to
// 3 s) must not wait for either, and the speaker must not wait behind them. Start, Update,
// Drain, WithdrawAll and Stop are called from one thread (the daemon's main loop); Status and
// View from any thread (the admin listener's).
//
// Lifetime: destroying the announcer without Stop() closes the sessions without NOTIFICATION, as
// a crash would (peers that support graceful restart keep the routes for the restart time).
#ifndef HOLDFAST_EDGE_BGP_ANNOUNCER_H_
#define HOLDFAST_EDGE_BGP_ANNOUNCER_H_

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "bfd/speaker/speaker.h"
#include "bgp/speaker/speaker.h"
#include "edge/config/bgp_config.h"

namespace holdfast::edge {

class BgpAnnouncer {
 public:
  enum class Phase : uint8_t {
    kIdle,        // created, not started
    kAnnouncing,  // the POP's prefixes are announced
    kDraining,    // re-announced with GRACEFUL_SHUTDOWN (65535:0)
    kWithdrawn,   // everything withdrawn, sessions still up
    kStopped,     // Cease sent, sessions closed
  };

  // What /bgp shows besides the peers' status.
  struct View {
    std::shared_ptr<const BgpConfig> config;
    // What is meant to be on the wire now (empty once withdrawn), without the drain attributes.
    std::vector<bgp::Announcement> announced;
    Phase phase = Phase::kIdle;
    uint32_t drain_prepend = 0;
  };

  // The speaker for `config` (not null), checked; no I/O. InvalidArgument from the speaker's
  // checks (ASNs, hold times, router id).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<BgpAnnouncer>> Create(
      std::shared_ptr<const BgpConfig> config);
  ~BgpAnnouncer();
  BgpAnnouncer(const BgpAnnouncer&) = delete;
  BgpAnnouncer& operator=(const BgpAnnouncer&) = delete;

  // Starts the sessions on a new thread, announcing the config's announcements. Call once.
  [[nodiscard]] absl::Status Start(std::string_view version);
  // Takes the announcements of `next`, whose speaker part must be the running one (see
  // BgpSpeakerChange); logs event=bgp.announce when they differ. Ignored once draining.
  void Update(std::shared_ptr<const BgpConfig> next, std::string_view version);
  // RFC 8326: everything re-announced with GRACEFUL_SHUTDOWN and `extra_prepend` more copies of
  // the local ASN, so the peers move traffic away before the withdrawal. Drain and WithdrawAll
  // return once the speaker has queued the UPDATEs (at most 1 s later), so a wait that follows
  // starts with them on their way.
  void Drain(uint32_t extra_prepend);
  void WithdrawAll();
  // Cease / Administrative Shutdown to every peer, then the thread stops. Waits at most `timeout`
  // for the NOTIFICATIONs to be written; false when it had to give up on them.
  bool Stop(std::chrono::milliseconds timeout);

  std::vector<bgp::PeerStatus> Status() const { return speaker_->Status(); }
  // The BFD sessions (peers[].bfd), once started; empty without BFD.
  std::vector<bfd::PeerStatus> BfdStatus() const;
  // Peers whose session is Established now.
  size_t Established() const;
  View view() const;

 private:
  explicit BgpAnnouncer(std::shared_ptr<const BgpConfig> config);
  // Waits (at most 1 s) until the speaker's loop has run what was posted to it so far.
  void Sync();
  // The BFD sessions of the config, each tied to its BGP peer (BFD down resets the session).
  absl::Status StartBfd();
  // Says AdminDown on every BFD session and stops them.
  void StopBfd();

  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<bgp::Speaker> speaker_;
  std::thread thread_;

  mutable std::mutex mu_;
  View view_;  // guarded by mu_
  // On a thread of its own (bfd/speaker); the pointer guarded by mu_.
  std::unique_ptr<bfd::Speaker> bfd_;
};

// "idle", "announcing", "draining", "withdrawn", "stopped".
std::string_view PhaseName(BgpAnnouncer::Phase phase);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_BGP_ANNOUNCER_H_
