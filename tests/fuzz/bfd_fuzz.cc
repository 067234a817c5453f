// Fuzzes the BFD Control packet decoder (bfd/wire) and the session state machine behind it: the
// input is a run of UDP payloads from a peer, each prefixed by one octet (its length, then how
// many milliseconds pass before it arrives).
//
// Beyond "no crash, no hang, no leak", it checks what the edge relies on:
//  - a decoded packet satisfies RFC 5880 section 6.8.6 (version 1, Detect Mult and My
//    Discriminator not 0, no Multipoint, not Poll and Final at once, Your Discriminator 0 only
//    in Down or AdminDown, Length within the payload);
//  - a decoded packet encoded again decodes to the same packet;
//  - fed to a session, whatever arrives, the session only ever sends packets that decode, with
//    its own discriminator, never Poll and Final together, never faster than 1 s while not Up;
//    its state changes are real changes; it is Up only after hearing from the peer, and goes
//    down once the peer falls silent for its detection time.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <span>
#include <vector>

#include "bfd/session/session.h"
#include "bfd/wire/control_packet.h"

namespace holdfast::bfd {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "bfd_fuzz: broken invariant: " << what << "\n";
    std::abort();
  }
}

void CheckDecoded(const ControlPacket& p, size_t payload) {
  Check(p.detect_multiplier != 0, "Detect Mult 0 decoded");
  Check(p.my_discriminator != 0, "My Discriminator 0 decoded");
  Check(!(p.poll && p.final), "Poll and Final decoded");
  Check(p.your_discriminator != 0 || p.state == SessionState::kDown ||
            p.state == SessionState::kAdminDown,
        "Your Discriminator 0 decoded in Init or Up");
  const std::vector<uint8_t> again = EncodeControlPacket(p);
  Check(again.size() <= payload, "the packet is longer than its payload");
  absl::StatusOr<ControlPacket> round = DecodeControlPacket(again);
  Check(round.ok() && *round == p, "decode, encode, decode differs");
}

void CheckActions(const Session& s, const std::vector<Action>& actions) {
  for (const Action& a : actions) {
    if (a.kind == Action::Kind::kStateChange) {
      Check(a.from != a.to, "a state change to the same state");
      continue;
    }
    absl::StatusOr<ControlPacket> sent = DecodeControlPacket(EncodeControlPacket(a.packet));
    Check(sent.ok(), "the session sent a packet that does not decode");
    Check(sent->my_discriminator == s.config().local_discriminator, "sent another discriminator");
    Check(a.packet.state == SessionState::kUp || a.packet.desired_min_tx_interval >= 1'000'000,
          "faster than 1 s while not Up");
  }
}

}  // namespace
}  // namespace holdfast::bfd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace holdfast::bfd;  // NOLINT(google-build-using-namespace)
  const std::span<const uint8_t> input(data, size);

  SessionConfig config;
  config.local_discriminator = 0x01020304;
  config.desired_min_tx = std::chrono::milliseconds(100);
  config.required_min_rx = std::chrono::milliseconds(100);
  config.detect_multiplier = 3;
  Session session(config);
  TimePoint now{};
  CheckActions(session, session.Start(now));

  size_t at = 0;
  for (int packets = 0; packets < 64 && at + 2 <= input.size(); ++packets) {
    const size_t length = std::min<size_t>(input[at], input.size() - at - 2);
    const auto wait = std::chrono::milliseconds(input[at + 1]);
    const std::span<const uint8_t> payload = input.subspan(at + 2, length);
    at += 2 + length;
    // Time passes: the session's timers fire in order on the way.
    const TimePoint until = now + wait;
    for (int steps = 0; steps < 10'000; ++steps) {
      std::optional<TimePoint> next = session.NextDeadline();
      if (!next || *next > until) break;
      now = std::max(now, *next);
      CheckActions(session, session.OnTimer(now));
    }
    now = until;
    absl::StatusOr<ControlPacket> p = DecodeControlPacket(payload);
    if (!p.ok()) continue;
    CheckDecoded(*p, payload.size());
    CheckActions(session, session.OnPacket(now, *p));
  }
  // Silence: after the detection time (at most 255 x 2^32 us; the bound here is the peer's) the
  // session is not Up.
  const SessionStats stats = session.stats();
  if (session.up()) {
    const TimePoint until = now + stats.detection_time + std::chrono::milliseconds(1);
    bool reached = false;
    for (int steps = 0; steps < 100'000 && !reached; ++steps) {
      std::optional<TimePoint> next = session.NextDeadline();
      reached = !next || *next > until;
      if (reached) break;
      now = std::max(now, *next);
      CheckActions(session, session.OnTimer(now));
    }
    // (A peer may ask for hours between packets: then the bound on steps ends the wait first.)
    Check(!reached || !session.up(), "still Up after a detection time of silence");
  }
  return 0;
}
