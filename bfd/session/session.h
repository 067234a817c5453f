// One BFD session in asynchronous mode (RFC 5880), as a pure state machine: events in (start,
// stop, a decoded Control packet, time), actions out (send this packet, the state changed), the
// time passed in by the caller. No sockets, no clock, no logger; the transmit jitter comes from
// a generator seeded by the caller.
//
// What it does, by RFC 5880 section:
//  - 6.2 the three-way handshake, Down -> Init -> Up, and down on the peer's Down or AdminDown
//    (Diagnostic 3) or when no packet came for a Detection Time (Diagnostic 1);
//  - 6.8.3 the slow rate: while not Up, Desired Min TX is at least 1 s; coming Up starts a Poll
//    Sequence that announces the configured rate, used at once (a decrease needs no wait); going
//    down returns to 1 s;
//  - 6.8.4 Detection Time: the peer's Detect Mult x max(our Required Min RX, its Desired Min TX);
//  - 6.8.6 reception: a packet with the A bit (no authentication is configured here), for another
//    discriminator, or while AdminDown is dropped (counted, no state change); a Poll is answered
//    at once with a Final; a Final ends our Poll Sequence;
//  - 6.8.7 transmission: every max(Desired Min TX, the peer's Required Min RX) less 0-25% jitter
//    (10-25% with Detect Mult 1); nothing while the peer's Required Min RX is 0, or while the
//    peer is in Demand mode and both are Up; a passive session (6.1) sends only once the peer
//    spoke;
//  - 6.8.16 AdminDown: Stop() says AdminDown (Diagnostic 7) for one Detection Time, then is
//    silent.
// No Echo function, no Demand mode of its own, no authentication.
//
// Not thread-safe: one owner calls it (the BFD loop). Deadlines are absolute times on the caller's
// steady clock; the caller calls OnTimer() once NextDeadline() has passed.
#ifndef HOLDFAST_BFD_SESSION_SESSION_H_
#define HOLDFAST_BFD_SESSION_SESSION_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bfd/wire/control_packet.h"

namespace holdfast::bfd {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Micros = std::chrono::microseconds;

struct SessionConfig {
  // Ours, not 0, unique among this speaker's sessions: the peer's Your Discriminator.
  uint32_t local_discriminator = 0;
  // How often we would like to send once Up; while not Up we send at most once a second.
  Micros desired_min_tx{100'000};
  // How often we can take the peer's packets; 0: the peer must not send (we never ask that).
  Micros required_min_rx{100'000};
  // Packets missed before the peer declares us down (1..255).
  uint8_t detect_multiplier = 3;
  // RFC 5880 section 6.1: wait for the peer's first packet before sending.
  bool passive = false;
  // Seeds the transmit jitter.
  uint64_t seed = 0;
};

struct Action {
  enum class Kind : uint8_t {
    kSend,         // put `packet` on the wire
    kStateChange,  // the session went from `from` to `to`, for `diagnostic`
  };
  Kind kind = Kind::kSend;
  ControlPacket packet{};
  SessionState from = SessionState::kAdminDown;
  SessionState to = SessionState::kAdminDown;
  Diagnostic diagnostic = Diagnostic::kNone;
};

struct SessionStats {
  SessionState state = SessionState::kAdminDown;
  SessionState remote_state = SessionState::kDown;
  Diagnostic local_diagnostic = Diagnostic::kNone;
  Diagnostic remote_diagnostic = Diagnostic::kNone;
  uint32_t remote_discriminator = 0;
  // What the timers are now: our transmit interval (before jitter) and the time without a
  // packet after which we declare the peer down (0 until the peer spoke).
  Micros transmit_interval{0};
  Micros detection_time{0};
  // The peer's own parameters, from its last packet.
  Micros remote_desired_min_tx{0};
  Micros remote_required_min_rx{0};
  uint8_t remote_detect_multiplier = 0;
  std::optional<TimePoint> up_since;
  uint64_t up_transitions = 0;
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  // Decoded packets the session dropped (authentication, discriminator, AdminDown).
  uint64_t packets_dropped = 0;
  // Why the session last left Up; kNone until then.
  Diagnostic last_down_diagnostic = Diagnostic::kNone;
};

class Session {
 public:
  // The config is checked by the caller: a discriminator, detect_multiplier 1..255, intervals
  // of at least 1 us and at most 2^32-1 us.
  explicit Session(SessionConfig config);

  const SessionConfig& config() const { return config_; }
  SessionState state() const { return state_; }
  bool up() const { return state_ == SessionState::kUp; }
  SessionStats stats() const;

  // AdminDown -> Down: starts sending at the slow rate (unless passive).
  std::vector<Action> Start(TimePoint now);
  // -> AdminDown with `diagnostic`: tells the peer for one Detection Time, then is silent.
  std::vector<Action> Stop(TimePoint now,
                           Diagnostic diagnostic = Diagnostic::kAdministrativelyDown);
  // A decoded packet from the peer (the caller checked TTL and demultiplexed by Your
  // Discriminator or, while it is 0, by address).
  std::vector<Action> OnPacket(TimePoint now, const ControlPacket& packet);
  // Timers whose deadline is at or before `now` fire.
  std::vector<Action> OnTimer(TimePoint now);
  // The earliest deadline, if any timer runs.
  std::optional<TimePoint> NextDeadline() const;

 private:
  // What we put in Desired Min TX now: the configured rate once Up, at least 1 s otherwise.
  Micros DesiredMinTx() const;
  Micros TransmitInterval() const;
  Micros DetectionTime() const;
  bool MayTransmit() const;
  ControlPacket Packet(bool final) const;
  void Send(std::vector<Action>& out, bool final);
  void ScheduleTransmit(TimePoint now);
  void SetState(TimePoint now, std::vector<Action>& out, SessionState to, Diagnostic why);

  SessionConfig config_;
  std::minstd_rand random_;
  SessionState state_ = SessionState::kAdminDown;
  Diagnostic local_diagnostic_ = Diagnostic::kNone;
  // From the peer's last packet (RFC 5880 section 6.8.1 bfd.Remote*).
  uint32_t remote_discriminator_ = 0;
  SessionState remote_state_ = SessionState::kDown;
  Diagnostic remote_diagnostic_ = Diagnostic::kNone;
  bool remote_demand_ = false;
  Micros remote_min_rx_{1};  // 6.8.1: initialized to 1
  Micros remote_desired_min_tx_{0};
  uint8_t remote_detect_multiplier_ = 0;
  // A Poll Sequence under way: our packets carry P until the peer's Final.
  bool polling_ = false;
  std::optional<TimePoint> transmit_deadline_;
  std::optional<TimePoint> detection_deadline_;
  // Stop(): AdminDown is told until then.
  std::optional<TimePoint> admin_down_until_;
  SessionStats stats_;
};

}  // namespace holdfast::bfd

#endif  // HOLDFAST_BFD_SESSION_SESSION_H_
