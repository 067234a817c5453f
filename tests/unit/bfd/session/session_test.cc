#include "bfd/session/session.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <vector>

namespace holdfast::bfd {
namespace {

using std::chrono::milliseconds;

SessionConfig Config(uint32_t discriminator, int tx_ms = 100, int rx_ms = 100, int mult = 3) {
  SessionConfig c;
  c.local_discriminator = discriminator;
  c.desired_min_tx = milliseconds(tx_ms);
  c.required_min_rx = milliseconds(rx_ms);
  c.detect_multiplier = static_cast<uint8_t>(mult);
  c.seed = discriminator;
  return c;
}

std::vector<ControlPacket> Sent(const std::vector<Action>& actions) {
  std::vector<ControlPacket> out;
  for (const Action& a : actions) {
    if (a.kind == Action::Kind::kSend) out.push_back(a.packet);
  }
  return out;
}

// Two sessions joined by an imaginary wire: what one sends, the other reads (through the codec,
// as the loop would). The clock is whatever the test says it is; `a_deaf` and `b_mute` cut the
// wire one way.
struct Pair {
  Session a{Config(1)};
  Session b{Config(2)};
  TimePoint now{};
  bool a_mute = false;
  bool b_mute = false;
  std::vector<Action> a_changes;
  std::vector<Action> b_changes;

  void Deliver(const std::vector<Action>& from_a, const std::vector<Action>& from_b) {
    for (const Action& act : from_a) {
      if (act.kind == Action::Kind::kStateChange) a_changes.push_back(act);
    }
    for (const Action& act : from_b) {
      if (act.kind == Action::Kind::kStateChange) b_changes.push_back(act);
    }
    std::vector<Action> to_a;
    std::vector<Action> to_b;
    if (!a_mute) {
      for (const ControlPacket& p : Sent(from_a)) {
        auto more = b.OnPacket(now, *DecodeControlPacket(EncodeControlPacket(p)));
        to_b.insert(to_b.end(), more.begin(), more.end());
      }
    }
    if (!b_mute) {
      for (const ControlPacket& p : Sent(from_b)) {
        auto more = a.OnPacket(now, *DecodeControlPacket(EncodeControlPacket(p)));
        to_a.insert(to_a.end(), more.begin(), more.end());
      }
    }
    if (!to_a.empty() || !to_b.empty()) Deliver(to_a, to_b);
  }

  void Start() { Deliver(a.Start(now), b.Start(now)); }

  // Runs both sessions' timers until `until`.
  void RunUntil(TimePoint until) {
    for (int steps = 0; steps < 100'000; ++steps) {
      std::optional<TimePoint> next = a.NextDeadline();
      if (auto nb = b.NextDeadline(); nb && (!next || *nb < *next)) next = nb;
      if (!next || *next > until) break;
      now = std::max(now, *next);
      Deliver(a.OnTimer(now), b.OnTimer(now));
    }
    now = until;
  }
  void Run(milliseconds d) { RunUntil(now + d); }
};

TEST_CASE("two sessions come up through Down, Init and Up and then run the configured rate",
          "[bfd][session]") {
  Pair pair;
  pair.Start();
  CHECK(pair.a.up());
  CHECK(pair.b.up());
  REQUIRE(pair.a_changes.size() == 3);  // AdminDown -> Down -> Init or Up
  CHECK(pair.a_changes.back().to == SessionState::kUp);
  pair.Run(milliseconds(2000));
  const SessionStats s = pair.a.stats();
  CHECK(s.state == SessionState::kUp);
  CHECK(s.remote_discriminator == 2);
  CHECK(s.transmit_interval == milliseconds(100));
  CHECK(s.detection_time == milliseconds(300));
  CHECK(s.up_transitions == 1);
  // Sent at 75-100% of 100 ms for two seconds: 20 to 27 packets, plus the handshake's.
  CHECK(s.packets_sent >= 20);
  CHECK(s.packets_sent <= 32);
}

TEST_CASE("a session whose peer falls silent goes down after the detection time",
          "[bfd][session]") {
  Pair pair;
  pair.Start();
  pair.Run(milliseconds(1000));
  REQUIRE(pair.a.up());
  pair.b_mute = true;
  const TimePoint silent = pair.now;
  pair.Run(milliseconds(250));
  CHECK(pair.a.up());  // 3 x 100 ms not yet over (the last packet came at most 100 ms before)
  pair.Run(milliseconds(100));
  CHECK(pair.a.state() == SessionState::kDown);
  REQUIRE_FALSE(pair.a_changes.empty());
  const Action& down = pair.a_changes.back();
  CHECK(down.from == SessionState::kUp);
  CHECK(down.diagnostic == Diagnostic::kControlDetectionTimeExpired);
  CHECK(pair.a.stats().remote_discriminator == 0);
  CHECK(pair.now - silent <= milliseconds(350));
  // b hears a say Down and goes down too.
  CHECK(pair.b.state() != SessionState::kUp);
  CHECK(pair.b.stats().last_down_diagnostic == Diagnostic::kNeighborSignaledSessionDown);
}

TEST_CASE("a session comes back up when its peer speaks again", "[bfd][session]") {
  Pair pair;
  pair.Start();
  pair.Run(milliseconds(500));
  pair.b_mute = true;
  pair.Run(milliseconds(2000));
  REQUIRE_FALSE(pair.a.up());
  pair.b_mute = false;
  pair.Run(milliseconds(3000));  // the slow rate: a packet a second at most
  CHECK(pair.a.up());
  CHECK(pair.b.up());
  CHECK(pair.a.stats().up_transitions == 2);
}

TEST_CASE("Stop says AdminDown: the peer goes down at once, and it falls silent later",
          "[bfd][session]") {
  Pair pair;
  pair.Start();
  pair.Run(milliseconds(500));
  std::vector<Action> stopped = pair.a.Stop(pair.now);
  REQUIRE(Sent(stopped).size() == 1);
  CHECK(Sent(stopped)[0].state == SessionState::kAdminDown);
  CHECK(Sent(stopped)[0].diagnostic == Diagnostic::kAdministrativelyDown);
  pair.Deliver(stopped, {});
  CHECK(pair.b.state() == SessionState::kDown);
  CHECK(pair.b.stats().local_diagnostic == Diagnostic::kNeighborSignaledSessionDown);
  // b's packets change nothing at a; after a detection time a sends nothing more.
  pair.Run(milliseconds(5000));
  CHECK(pair.a.state() == SessionState::kAdminDown);
  CHECK(pair.a.stats().packets_dropped > 0);
  CHECK_FALSE(pair.a.NextDeadline().has_value());
  // Start again: up again.
  pair.Deliver(pair.a.Start(pair.now), {});
  pair.Run(milliseconds(3000));
  CHECK(pair.a.up());
}

TEST_CASE("alone, a session sends at the slow rate of one second less jitter", "[bfd][session]") {
  Session s(Config(9, 50, 50, 3));
  TimePoint now{};
  std::vector<TimePoint> sent;
  for (const ControlPacket& p : Sent(s.Start(now))) {
    CHECK(p.desired_min_tx_interval == 1'000'000);  // not Up: at least 1 s
    CHECK(p.required_min_rx_interval == 50'000);
    CHECK(p.your_discriminator == 0);
    CHECK(p.state == SessionState::kDown);
    sent.push_back(now);
  }
  for (int i = 0; i < 1000 && now < TimePoint{} + std::chrono::seconds(20); ++i) {
    now = *s.NextDeadline();
    if (!Sent(s.OnTimer(now)).empty()) sent.push_back(now);
  }
  REQUIRE(sent.size() >= 20);
  for (size_t i = 1; i < sent.size(); ++i) {
    CHECK(sent[i] - sent[i - 1] >= milliseconds(750));
    CHECK(sent[i] - sent[i - 1] <= milliseconds(1000));
  }
}

TEST_CASE("the intervals are negotiated: the slower side's rate counts", "[bfd][session]") {
  Pair pair;
  pair.b = Session(Config(2, /*tx_ms=*/300, /*rx_ms=*/500, /*mult=*/5));
  pair.Start();
  pair.Run(milliseconds(3000));
  REQUIRE(pair.a.up());
  // a may not send faster than b takes (500 ms); b's packets come every 300 ms, 5 missed: 1.5 s.
  CHECK(pair.a.stats().transmit_interval == milliseconds(500));
  CHECK(pair.a.stats().detection_time == milliseconds(1500));
  // b: a sends every max(100, 500) ms at most... a's own desire is 100 ms, b takes 500: b
  // detects after 3 x max(500, 100).
  CHECK(pair.b.stats().detection_time == milliseconds(1500));
  CHECK(pair.b.stats().transmit_interval == milliseconds(300));
}

TEST_CASE("a peer that asks for no packets gets none", "[bfd][session]") {
  Session s(Config(1));
  TimePoint now{};
  s.Start(now);
  ControlPacket quiet;
  quiet.state = SessionState::kDown;
  quiet.my_discriminator = 4;
  quiet.required_min_rx_interval = 0;
  s.OnPacket(now, quiet);
  CHECK(s.state() == SessionState::kInit);
  const uint64_t before = s.stats().packets_sent;
  for (int i = 0; i < 10; ++i) {
    now += std::chrono::seconds(1);
    s.OnTimer(now);
  }
  CHECK(s.stats().packets_sent == before);
}

TEST_CASE("a Poll is answered at once with a Final", "[bfd][session]") {
  Session s(Config(1));
  TimePoint now{};
  s.Start(now);
  ControlPacket poll;
  poll.state = SessionState::kDown;
  poll.my_discriminator = 77;
  poll.poll = true;
  std::vector<ControlPacket> out = Sent(s.OnPacket(now, poll));
  int finals = 0;
  for (const ControlPacket& p : out) {
    CHECK_FALSE((p.poll && p.final));
    if (p.final) ++finals;
  }
  CHECK(finals == 1);
}

TEST_CASE("coming up starts a Poll Sequence that the peer's Final ends", "[bfd][session]") {
  Pair pair;
  pair.b_mute = true;
  pair.Start();
  // Drive a by hand: b says Init, so a goes Up and polls for its faster rate.
  ControlPacket init;
  init.state = SessionState::kInit;
  init.my_discriminator = 2;
  init.your_discriminator = 1;
  init.required_min_rx_interval = 100'000;
  std::vector<ControlPacket> sent = Sent(pair.a.OnPacket(pair.now, init));
  REQUIRE(pair.a.up());
  REQUIRE_FALSE(sent.empty());
  CHECK(sent.back().poll);
  CHECK(sent.back().desired_min_tx_interval == 100'000);
  ControlPacket final_packet = init;
  final_packet.state = SessionState::kUp;
  final_packet.final = true;
  pair.a.OnPacket(pair.now, final_packet);
  pair.now += milliseconds(150);
  for (const ControlPacket& p : Sent(pair.a.OnTimer(pair.now))) CHECK_FALSE(p.poll);
}

TEST_CASE("packets with authentication, for another discriminator, change nothing",
          "[bfd][session]") {
  Pair pair;
  pair.Start();
  pair.Run(milliseconds(500));
  REQUIRE(pair.a.up());
  ControlPacket down;
  down.state = SessionState::kAdminDown;
  down.my_discriminator = 2;
  down.your_discriminator = 99;  // not a's
  pair.a.OnPacket(pair.now, down);
  CHECK(pair.a.up());
  down.your_discriminator = 1;
  down.authentication = Authentication{1, {1, 'x'}};
  pair.a.OnPacket(pair.now, down);
  CHECK(pair.a.up());
  CHECK(pair.a.stats().packets_dropped == 2);
}

TEST_CASE("a passive session speaks only once the peer has", "[bfd][session]") {
  SessionConfig c = Config(5);
  c.passive = true;
  Session s(c);
  TimePoint now{};
  CHECK(Sent(s.Start(now)).empty());
  CHECK_FALSE(s.NextDeadline().has_value());
  ControlPacket hello;
  hello.state = SessionState::kDown;
  hello.my_discriminator = 6;
  hello.required_min_rx_interval = 100'000;
  std::vector<ControlPacket> out = Sent(s.OnPacket(now, hello));
  REQUIRE_FALSE(out.empty());
  CHECK(out.front().your_discriminator == 6);
  CHECK(s.state() == SessionState::kInit);
  CHECK(s.NextDeadline().has_value());
}

TEST_CASE("a peer in Demand mode, both Up, gets no periodic packets", "[bfd][session]") {
  Pair pair;
  pair.Start();
  pair.Run(milliseconds(500));
  ControlPacket demand;
  demand.state = SessionState::kUp;
  demand.demand = true;
  demand.my_discriminator = 2;
  demand.your_discriminator = 1;
  demand.desired_min_tx_interval = 100'000;
  demand.required_min_rx_interval = 100'000;
  pair.a.OnPacket(pair.now, demand);
  const uint64_t before = pair.a.stats().packets_sent;
  for (int i = 0; i < 10; ++i) {
    pair.now += milliseconds(20);
    pair.a.OnTimer(pair.now);
  }
  CHECK(pair.a.stats().packets_sent == before);
}

}  // namespace
}  // namespace holdfast::bfd
