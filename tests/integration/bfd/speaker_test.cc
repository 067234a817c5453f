// The BFD speaker against BIRD 2's own BFD (`protocol bfd` with a configured neighbor) on
// loopback, multihop (RFC 5883: BIRD wants an interface for single hop, and a loopback address
// is not one it takes). BIRD listens on the wildcard address; the speaker on its own 127.0.9x.1,
// one per test. The tests hold the BFD ports in turn (RESOURCE_LOCK bfd_ports): two BIRDs on
// one wildcard port would share its packets.
#include "bfd/speaker/speaker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/bird.h"
#include "tests/support/process.h"

namespace holdfast::bfd {
namespace {

using holdfast::testing::Bird;
using holdfast::testing::WaitUntil;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kBirdAddress[] = "127.0.0.2";

net::IpAddress A(const std::string& text) { return *net::IpAddress::Parse(text); }

std::string BirdConfig(const std::string& neighbor) {
  return "router id 10.255.0.1;\n"
         "log \"{dir}/bird.log\" all;\n"
         "protocol device {}\n"
         "protocol bfd {\n"
         "  multihop { interval 100 ms; multiplier 3; };\n"
         "  neighbor " +
         neighbor + " local " + kBirdAddress +
         " multihop on;\n"
         "}\n";
}

// BIRD's line for the neighbor in `show bfd sessions`:
//   127.0.91.1     ---        Up         12:00:00.000    0.100    0.300
std::string BirdSession(const Bird& bird, const std::string& neighbor) {
  const std::string out = bird.Cli("show bfd sessions");
  const size_t at = out.find(neighbor);
  return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
}

// What the speaker's callback saw, for the test thread.
struct Changes {
  std::mutex mu;
  std::vector<StateChange> seen;
  void Add(const StateChange& c) {
    std::lock_guard lock(mu);
    seen.push_back(c);
  }
  std::optional<StateChange> Last() {
    std::lock_guard lock(mu);
    if (seen.empty()) return std::nullopt;
    return seen.back();
  }
  // The first change from Up, if any.
  std::optional<StateChange> FirstDown() {
    std::lock_guard lock(mu);
    for (const StateChange& c : seen) {
      if (c.from == SessionState::kUp) return c;
    }
    return std::nullopt;
  }
};

PeerConfig Peer(const std::string& local) {
  PeerConfig p;
  p.local = A(local);
  p.peer = A(kBirdAddress);
  p.multihop = true;
  p.interval = milliseconds(100);
  p.multiplier = 3;
  return p;
}

SessionStats StatsOf(const Speaker& speaker) {
  std::vector<PeerStatus> all = speaker.Status();
  return all.empty() ? SessionStats{} : all.front().stats;
}

// A speaker with one multihop session from `local` to BIRD, once it is Up; its changes go to
// `changes`.
std::unique_ptr<Speaker> UpWithBird(const std::string& local, Changes& changes) {
  auto speaker = Speaker::Create([&](const PeerConfig&, const StateChange& c) { changes.Add(c); });
  REQUIRE(speaker.ok());
  REQUIRE((*speaker)->Add(Peer(local)).ok());
  REQUIRE(WaitUntil([&] { return StatsOf(**speaker).state == SessionState::kUp; }, seconds(10)));
  return *std::move(speaker);
}

TEST_CASE("a session with BIRD comes up at 100 ms x 3 and BIRD sees it go when the speaker stops",
          "[bfd][bird]") {
  const std::string local = "127.0.91.1";
  Bird bird(BirdConfig(local));
  Changes changes;
  std::unique_ptr<Speaker> speaker = UpWithBird(local, changes);
  REQUIRE(WaitUntil([&] { return BirdSession(bird, local).find(" Up ") != std::string::npos; },
                    seconds(5)));
  // After the Poll Sequences both sides run the fast rate.
  REQUIRE(WaitUntil(
      [&] { return BirdSession(bird, local).find("0.100    0.300") != std::string::npos; },
      seconds(5)));
  const SessionStats s = StatsOf(*speaker);
  CHECK(s.transmit_interval == milliseconds(100));
  CHECK(s.detection_time == milliseconds(300));
  CHECK(s.remote_detect_multiplier == 3);
  CHECK(changes.Last()->to == SessionState::kUp);

  speaker.reset();  // says AdminDown
  CHECK(WaitUntil([&] { return BirdSession(bird, local).find(" Down ") != std::string::npos; },
                  seconds(2)));
}

TEST_CASE("a hung peer is down after the detection time and back when it resumes", "[bfd][bird]") {
  const std::string local = "127.0.92.1";
  Bird bird(BirdConfig(local));
  Changes changes;
  std::unique_ptr<Speaker> speaker = UpWithBird(local, changes);
  REQUIRE(WaitUntil([&] { return StatsOf(*speaker).remote_desired_min_tx == milliseconds(100); },
                    seconds(5)));

  REQUIRE(kill(bird.pid(), SIGSTOP) == 0);
  const auto stopped = std::chrono::steady_clock::now();
  const bool down =
      WaitUntil([&] { return StatsOf(*speaker).state == SessionState::kDown; }, seconds(5));
  const auto noticed = std::chrono::steady_clock::now() - stopped;
  kill(bird.pid(), SIGCONT);
  REQUIRE(down);
  REQUIRE(changes.FirstDown().has_value());
  CHECK(changes.FirstDown()->to == SessionState::kDown);
  CHECK(changes.FirstDown()->diagnostic == Diagnostic::kControlDetectionTimeExpired);
  // 3 x 100 ms; generous for a busy machine, far below BGP's hold time.
  CHECK(noticed < seconds(2));
  CHECK(WaitUntil([&] { return StatsOf(*speaker).state == SessionState::kUp; }, seconds(10)));
  CHECK(StatsOf(*speaker).up_transitions == 2);
}

// Sends `payload` to the speaker's multihop or single-hop port at `to` from `from`, with `ttl`.
void SendRaw(const std::string& from, const std::string& to, uint16_t port,
             const std::vector<uint8_t>& payload, int ttl) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, from.c_str(), &src.sin_addr);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) == 0);
  setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  inet_pton(AF_INET, to.c_str(), &dst.sin_addr);
  sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
  close(fd);
}

TEST_CASE("malformed, spoofed and wrong-TTL packets are refused and change nothing",
          "[bfd][bird]") {
  const std::string local = "127.0.93.1";
  Bird bird(BirdConfig(local));
  auto speaker = Speaker::Create(nullptr);
  REQUIRE(speaker.ok());
  REQUIRE((*speaker)->Add(Peer(local)).ok());
  // A single-hop session too, to a peer that is not there, for its TTL check.
  PeerConfig single = Peer(local);
  single.peer = A("127.0.93.2");
  single.multihop = false;
  REQUIRE((*speaker)->Add(single).ok());
  auto multihop_stats = [&] {
    for (const PeerStatus& p : (*speaker)->Status()) {
      if (p.config.multihop) return p;
    }
    return PeerStatus{};
  };
  REQUIRE(
      WaitUntil([&] { return multihop_stats().stats.state == SessionState::kUp; }, seconds(10)));
  const PeerStatus up = multihop_stats();

  ControlPacket down;
  down.state = SessionState::kAdminDown;
  down.diagnostic = Diagnostic::kAdministrativelyDown;
  down.my_discriminator = up.stats.remote_discriminator;
  down.your_discriminator = up.local_discriminator;
  std::vector<uint8_t> spoofed = EncodeControlPacket(down);
  // The session's discriminators, from an address that is not its peer.
  SendRaw("127.0.93.9", local, kMultihopPort, spoofed, 255);
  // A discriminator no session has.
  down.your_discriminator = up.local_discriminator + 1;
  SendRaw(kBirdAddress, local, kMultihopPort, EncodeControlPacket(down), 255);
  // Bad lengths, a bad version, a truncated packet.
  std::vector<uint8_t> bad = spoofed;
  bad[3] = 200;
  SendRaw(kBirdAddress, local, kMultihopPort, bad, 255);
  bad = spoofed;
  bad[0] = 0x40;
  SendRaw(kBirdAddress, local, kMultihopPort, bad, 255);
  SendRaw(kBirdAddress, local, kMultihopPort,
          std::vector<uint8_t>(spoofed.begin(), spoofed.begin() + 10), 255);
  // Single hop with TTL 254: a packet a router forwarded.
  ControlPacket hello;
  hello.state = SessionState::kDown;
  hello.my_discriminator = 42;
  SendRaw("127.0.93.2", local, kSingleHopPort, EncodeControlPacket(hello), 254);

  REQUIRE(WaitUntil(
      [&] {
        const RefusedPackets r = (*speaker)->refused();
        return r.wrong_source == 1 && r.no_session == 1 && r.malformed == 3 && r.ttl == 1;
      },
      seconds(5)));
  const PeerStatus after = multihop_stats();
  CHECK(after.stats.state == SessionState::kUp);
  CHECK(after.stats.up_transitions == 1);
  for (const PeerStatus& p : (*speaker)->Status()) {
    if (!p.config.multihop) CHECK(p.stats.remote_discriminator == 0);  // never heard
  }
}

}  // namespace
}  // namespace holdfast::bfd
