// The BFD speaker against BIRD 2's own BFD (`protocol bfd` with a configured neighbor): multihop
// (RFC 5883) on loopback, BIRD on the wildcard address and the speaker on its own 127.0.9x.1,
// one per test; single hop (RFC 5881) over a veth link to BIRD in a network namespace, since
// BIRD wants an interface for single hop and a loopback address is not one it takes. The tests hold
// the BFD ports in turn (RESOURCE_LOCK bfd_ports): two BIRDs on one wildcard port would share its
// packets.
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
#include "tests/support/netns.h"
#include "tests/support/process.h"
#include "tests/support/subprocess.h"

namespace holdfast::bfd {
namespace {

using holdfast::testing::Bird;
using holdfast::testing::VethNamespace;
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

// Single hop (RFC 5881) needs a directly connected interface: BIRD runs in a network namespace of
// its own at the far end of a veth link, with BFD on that interface, for IPv4 and IPv6.
std::string SingleHopBirdConfig(const VethNamespace& ns) {
  return "router id 10.255.0.1;\n"
         "log \"{dir}/bird.log\" all;\n"
         "protocol device {}\n"
         "protocol bfd {\n"
         "  interface \"" +
         ns.inner_interface() +
         "\" { interval 100 ms; multiplier 3; };\n"
         "  neighbor " +
         ns.outer_v4() + " dev \"" + ns.inner_interface() +
         "\";\n"
         "  neighbor " +
         ns.outer_v6() + " dev \"" + ns.inner_interface() +
         "\";\n"
         "}\n";
}

// Sends `payload` from inside namespace `ns`, from its end of the link, to the speaker's
// single-hop port with `ttl`: the peer's own address, one hop further away than it claims.
void SendFromNamespace(const VethNamespace& ns, const std::vector<uint8_t>& payload, int ttl) {
  std::string hex;
  for (const uint8_t b : payload) {
    hex += "0123456789abcdef"[b >> 4];
    hex += "0123456789abcdef"[b & 15];
  }
  const holdfast::testing::RunResult r =
      holdfast::testing::Run({"/usr/sbin/ip", "netns", "exec", ns.name(), "/usr/bin/python3", "-c",
                              "import socket, sys\n"
                              "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                              "s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(sys.argv[3]))\n"
                              "s.bind((sys.argv[1], 0))\n"
                              "s.sendto(bytes.fromhex(sys.argv[4]), (sys.argv[2], 3784))\n",
                              ns.inner_v4(), ns.outer_v4(), std::to_string(ttl), hex},
                             std::filesystem::temp_directory_path(), seconds(10));
  INFO(r.err);
  REQUIRE((r.exited && r.exit_code == 0));
}

TEST_CASE(
    "single hop over a link to BIRD: up on IPv4 and IPv6 with TTL 255, a forwarded packet "
    "refused",
    "[bfd][bird][netns]") {
  if (!VethNamespace::Available()) {
    WARN("skipped: making a network namespace needs root and iproute2");
    return;
  }
  VethNamespace ns;
  Bird bird(SingleHopBirdConfig(ns), {.netns = ns.name()});
  auto speaker = Speaker::Create(nullptr);
  REQUIRE(speaker.ok());
  for (const auto& [local, peer] :
       {std::pair{ns.outer_v4(), ns.inner_v4()}, std::pair{ns.outer_v6(), ns.inner_v6()}}) {
    PeerConfig p;
    p.local = A(local);
    p.peer = A(peer);
    p.multihop = false;
    REQUIRE((*speaker)->Add(p).ok());
  }
  auto all_up = [&] {
    for (const PeerStatus& p : (*speaker)->Status()) {
      if (p.stats.state != SessionState::kUp || p.stats.detection_time != milliseconds(300)) {
        return false;
      }
    }
    return true;
  };
  const bool up = WaitUntil(all_up, seconds(10));
  INFO(bird.Cli("show bfd sessions"));
  REQUIRE(up);
  // BIRD checks the TTL of what we send (255) as we check its: both sides Up at the fast rate.
  auto bird_up = [&](const std::string& neighbor) {
    const std::string line = BirdSession(bird, neighbor);
    return line.find(" Up ") != std::string::npos && line.find(" 0.100 ") != std::string::npos &&
           line.find(" 0.300") != std::string::npos;
  };
  REQUIRE(WaitUntil([&] { return bird_up(ns.outer_v4()) && bird_up(ns.outer_v6()); }, seconds(5)));
  CHECK((*speaker)->refused().ttl == 0);

  // The session's own discriminators and the peer's own address, but TTL 254: a router
  // forwarded it, so it was not the neighbour that sent it. Refused; the session stays Up.
  PeerStatus v4;
  for (const PeerStatus& p : (*speaker)->Status()) {
    if (p.config.peer == A(ns.inner_v4())) v4 = p;
  }
  ControlPacket down;
  down.state = SessionState::kAdminDown;
  down.diagnostic = Diagnostic::kAdministrativelyDown;
  down.my_discriminator = v4.stats.remote_discriminator;
  down.your_discriminator = v4.local_discriminator;
  SendFromNamespace(ns, EncodeControlPacket(down), 254);
  CHECK(WaitUntil([&] { return (*speaker)->refused().ttl == 1; }, seconds(5)));
  CHECK(all_up());
  for (const PeerStatus& p : (*speaker)->Status()) CHECK(p.stats.up_transitions == 1);

  // The same packet with TTL 255 is the peer's word: the session goes down, as it says.
  SendFromNamespace(ns, EncodeControlPacket(down), 255);
  CHECK(WaitUntil(
      [&] {
        for (const PeerStatus& p : (*speaker)->Status()) {
          if (p.config.peer == A(ns.inner_v4())) return p.stats.state == SessionState::kDown;
        }
        return false;
      },
      seconds(5)));
}

}  // namespace
}  // namespace holdfast::bfd
