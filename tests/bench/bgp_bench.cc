// Sending prefixes to a BIRD 2 receiver: holdfast's speaker (bgp::Speaker, in this process)
// against a sending BIRD 2 that has the same prefixes as static routes, same machine, same run.
//
//   bgp_bench [--ipv4 100000] [--ipv6 20000] [--withdraw 10000] [--rounds 3] [--dir DIR]
//
// One receiving BIRD (127.0.0.1, passive) has two BGP protocols: from_holdfast (the speaker,
// 127.0.0.2) and from_bird (the sending BIRD, 127.0.0.3). Both sessions stay up for the whole run
// and take turns (alternating which goes first). Each round, for each sender:
//   announce: everything is announced (holdfast: SetAnnouncements; BIRD: `enable` of its static
//     protocols); timed from the first prefix at the receiver to the last one. BIRD stamps each
//     route with the time it entered the table (`timeformat route "%s.%6f"`), so once the
//     receiver's count ("Routes: N imported" of `show protocols all NAME`, polled every 10 ms on
//     BIRD's control socket, no birdc process) is complete, the first and last stamps are read
//     from `show route protocol NAME`. The time from the command to the last stamp is printed
//     too (it includes the sender's own work: the speaker's diff and encoding, BIRD's static
//     protocol start and export).
//   withdraw: `--withdraw` of the IPv4 prefixes are withdrawn (holdfast: SetAnnouncements with
//     that many fewer; BIRD: `disable` of the static protocol that holds them); timed from the
//     command until the receiver's count drops by that many, polled every 2 ms.
//   then everything is withdrawn and the receiver drained before the other sender's turn.
// A first round of both does not count: it grows the receiver's table (and the speaker's memory)
// once, not in whichever turn comes first.
//
// Prefixes: the i-th /24 from 10.0.0.0 (10.0.0.0/24, 10.0.1.0/24, ...) and the i-th /48 from
// 2001:db8::/32; next hops 192.0.2.1 and 2001:db8::1 (BIRD takes loopback next hops as invalid).
// The last `--withdraw` IPv4 prefixes are the ones withdrawn. The medians of the rounds count.
// The last line is the result:
//   "bgp ratio bird/holdfast: R (holdfast N s, bird M s)"   R = bird / holdfast (announce)
// With --dir the BIRD configs, sockets, logs and pid files go there (tests/bench/bgp passes its
// own and kills what the pid files name on exit); otherwise a temporary directory is made and
// removed.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bgp/speaker/speaker.h"
#include "spdlog/spdlog.h"
#include "tests/support/bird.h"
#include "tests/support/ports.h"
#include "tests/support/process.h"

namespace {

using holdfast::bgp::Announcement;
using holdfast::bgp::Prefix;
using holdfast::net::IpAddress;
using holdfast::testing::Bird;
using holdfast::testing::BirdControl;
using holdfast::testing::BirdRoute;
using holdfast::testing::FreePort;
using holdfast::testing::ParseBirdRoutes;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kReceiverAddress[] = "127.0.0.1";
constexpr char kHoldfastAddress[] = "127.0.0.2";
constexpr char kSenderAddress[] = "127.0.0.3";
constexpr uint32_t kReceiverAsn = 65001;
constexpr uint32_t kSenderAsn = 64512;
constexpr milliseconds kPoll{10};
// Withdrawals are timed by polling: finer.
constexpr milliseconds kFinePoll{2};
constexpr seconds kStepTimeout{180};

// Fails the run: the exception unwinds to main, so the BIRDs (Bird destructors) and the speaker
// are stopped on the way.
[[noreturn]] void Die(const std::string& what) { throw std::runtime_error(what); }

// The BIRDs' process ids, for the signal handler: Ctrl-C or a kill must not leave them running.
volatile sig_atomic_t g_pids[2] = {0, 0};

void OnSignal(int signo) {
  for (const sig_atomic_t pid : g_pids) {
    if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  ::_exit(128 + signo);
}

std::string V4(int i) {
  return std::to_string(10 + i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
         std::to_string(i % 256) + ".0/24";
}
std::string V6(int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "2001:db8:%x::/48", i);
  return buf;
}

// The sum of "Routes: N imported" over the protocol's channels; nullopt when BIRD does not answer.
std::optional<long> Imported(BirdControl& bird, const std::string& protocol) {
  const std::string out = bird.Command("show protocols all " + protocol);
  if (out.empty()) return std::nullopt;
  long total = 0;
  for (size_t at = out.find("Routes:"); at != std::string::npos; at = out.find("Routes:", at + 1)) {
    total += std::strtol(out.c_str() + at + 7, nullptr, 10);
  }
  return total;
}

bool Established(BirdControl& bird, const std::string& protocol) {
  return bird.Command("show protocols " + protocol).find("Established") != std::string::npos;
}

struct Timing {
  double first_to_all = 0;    // seconds from the first prefix at the receiver to the last
  double command_to_all = 0;  // seconds from the command to the last prefix at the receiver
};

// Polls the receiver every `interval` until `protocol` holds `target` routes (or, with `down`, at
// most `target`); the seconds from `start` to then. A withdrawal leaves no trace to time it by,
// so withdrawals are timed this way (to the poll interval, 2 ms).
double WaitFor(BirdControl& receiver, const std::string& protocol, long target, bool down,
               Clock::time_point start, milliseconds interval) {
  for (Clock::time_point next = Clock::now();; next += interval) {
    const Clock::time_point now = Clock::now();
    const std::optional<long> n = Imported(receiver, protocol);
    if (!n) Die("the receiving BIRD does not answer");
    if (down ? *n <= target : *n >= target) {
      return std::chrono::duration<double>(now - start).count();
    }
    if (now - start > kStepTimeout) {
      Die(protocol + ": " + std::to_string(*n) + " routes after " +
          std::to_string(kStepTimeout.count()) + " s, waiting for " + std::to_string(target));
    }
    std::this_thread::sleep_until(std::max(next + interval, Clock::now()));
  }
}

// Once the receiver holds all of `protocol`'s routes: BIRD stamps each route with the time it
// entered the table (`timeformat route "%s.%6f"`, microseconds, the time of BIRD's event loop
// turn), so the first and last arrival are read from the table rather than polled for.
Timing Arrivals(BirdControl& receiver, const std::string& protocol, long expected,
                double command_time) {
  double first = 0, last = 0;
  long n = 0;
  for (const char* table : {"master4", "master6"}) {
    for (const BirdRoute& r : ParseBirdRoutes(receiver.Command(std::string("show route table ") +
                                                               table + " protocol " + protocol))) {
      const double t = std::strtod(r.since.c_str(), nullptr);
      if (n == 0 || t < first) first = t;
      if (n == 0 || t > last) last = t;
      ++n;
    }
  }
  if (n != expected) {
    Die(protocol + ": " + std::to_string(n) + " routes listed, " + std::to_string(expected) +
        " expected");
  }
  return {last - first, last - command_time};
}

// The wall-clock time BIRD's stamps are in, as seconds.
double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int Run(int argc, char** argv) {
  int ipv4 = 100000, ipv6 = 20000, withdraw = 10000, rounds = 3;
  std::string dir_arg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--ipv4") {
      ipv4 = std::atoi(value().c_str());
    } else if (a == "--ipv6") {
      ipv6 = std::atoi(value().c_str());
    } else if (a == "--withdraw") {
      withdraw = std::atoi(value().c_str());
    } else if (a == "--rounds") {
      rounds = std::atoi(value().c_str());
    } else if (a == "--dir") {
      dir_arg = value();
    } else {
      std::fprintf(stderr,
                   "usage: bgp_bench [--ipv4 100000] [--ipv6 20000] [--withdraw 10000] "
                   "[--rounds 3] [--dir DIR]\n");
      return 2;
    }
  }
  // Up to 4,194,304 /24s in 10.0.0.0/8 onwards stay below 74.0.0.0; /48s in 2001:db8::/32.
  if (ipv4 < 1 || ipv4 > 4000000 || ipv6 < 0 || ipv6 > 65536 || withdraw < 1 || withdraw > ipv4 ||
      rounds < 1) {
    std::fprintf(stderr, "bgp_bench: need 1 <= withdraw <= ipv4 <= 4000000, ipv6 <= 65536\n");
    return 2;
  }
  const long total = ipv4 + ipv6;
  spdlog::set_level(spdlog::level::warn);

  std::filesystem::path dir;
  bool own_dir = false;
  if (dir_arg.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "holdfast-bench-bgp.XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp failed");
    dir = tmpl;
    own_dir = true;
  } else {
    dir = dir_arg;
    std::filesystem::create_directories(dir);
  }
  struct RemoveDir {
    std::filesystem::path dir;
    bool own;
    ~RemoveDir() {
      std::error_code ec;
      if (own) std::filesystem::remove_all(dir, ec);
    }
  } remove_dir{dir, own_dir};

  const uint16_t receiver_port = FreePort(kReceiverAddress);
  const uint16_t sender_port = FreePort(kSenderAddress);
  const uint16_t unused_port = FreePort(kHoldfastAddress);  // the receiver never connects out

  // The receiver: passive, imports everything, exports nothing, logs only problems.
  auto peer = [&](const std::string& name, const char* address, uint16_t port) {
    return "protocol bgp " + name + " {\n  local " + kReceiverAddress + " port " +
           std::to_string(receiver_port) + " as " + std::to_string(kReceiverAsn) +
           ";\n  neighbor " + address + " port " + std::to_string(port) + " as " +
           std::to_string(kSenderAsn) +
           ";\n  passive on;\n  multihop;\n"
           "  ipv4 { import all; export none; };\n  ipv6 { import all; export none; };\n}\n";
  };
  const std::string receiver_conf = "router id 10.255.0.1;\ntimeformat route \"%s.%6f\";\nlog \"" +
                                    (dir / "receiver.log").string() +
                                    "\" { warning, error, fatal };\nprotocol device {}\n" +
                                    peer("from_holdfast", kHoldfastAddress, unused_port) +
                                    peer("from_bird", kSenderAddress, sender_port);

  // The sender: the prefixes as static routes in three protocols (s_wd holds the ones withdrawn),
  // disabled until its turn, exported over BGP with documentation next hops.
  std::string sender_conf = "router id 10.255.0.3;\nlog \"" + (dir / "sender.log").string() +
                            "\" { warning, error, fatal };\nprotocol device {}\n";
  sender_conf.reserve(static_cast<size_t>(total) * 40);
  sender_conf += "protocol static s_bulk4 {\n  ipv4;\n  disabled;\n";
  for (int i = 0; i < ipv4 - withdraw; ++i) sender_conf += "  route " + V4(i) + " blackhole;\n";
  sender_conf += "}\nprotocol static s_wd {\n  ipv4;\n  disabled;\n";
  for (int i = ipv4 - withdraw; i < ipv4; ++i) {
    sender_conf += "  route " + V4(i) + " blackhole;\n";
  }
  sender_conf += "}\n";
  if (ipv6 > 0) {
    sender_conf += "protocol static s_bulk6 {\n  ipv6;\n  disabled;\n";
    for (int i = 0; i < ipv6; ++i) sender_conf += "  route " + V6(i) + " blackhole;\n";
    sender_conf += "}\n";
  }
  sender_conf += std::string("protocol bgp to_receiver {\n  local ") + kSenderAddress + " port " +
                 std::to_string(sender_port) + " as " + std::to_string(kSenderAsn) +
                 ";\n  neighbor " + kReceiverAddress + " port " + std::to_string(receiver_port) +
                 " as " + std::to_string(kReceiverAsn) +
                 ";\n  multihop;\n"
                 "  ipv4 { import none; export where source = RTS_STATIC; next hop address "
                 "192.0.2.1; };\n"
                 "  ipv6 { import none; export where source = RTS_STATIC; next hop address "
                 "2001:db8::1; };\n}\n";

  // Each answers on its control socket once it has read its config (the sender's is large).
  Bird receiver(receiver_conf, {.name = "receiver", .dir = dir, .start_deadline = seconds(20)});
  g_pids[0] = receiver.pid();
  Bird sender(sender_conf, {.name = "sender", .dir = dir, .start_deadline = seconds(20)});
  g_pids[1] = sender.pid();
  BirdControl rx(receiver.socket());
  BirdControl tx(sender.socket());

  // The speaker and its announcements.
  std::vector<Announcement> all;
  all.reserve(static_cast<size_t>(total));
  for (int i = 0; i < ipv4 + ipv6; ++i) {
    Announcement a;
    a.prefix = *Prefix::Parse(i < ipv4 ? V4(i) : V6(i - ipv4));
    a.next_hop = *IpAddress::Parse(i < ipv4 ? "192.0.2.1" : "2001:db8::1");
    all.push_back(std::move(a));
  }
  // Everything but the last `withdraw` IPv4 prefixes.
  std::vector<Announcement> fewer;
  fewer.reserve(all.size());
  for (int i = 0; i < ipv4 + ipv6; ++i) {
    if (i < ipv4 - withdraw || i >= ipv4) fewer.push_back(all[static_cast<size_t>(i)]);
  }

  holdfast::bgp::SpeakerConfig config;
  config.local_asn = kSenderAsn;
  config.router_id = *IpAddress::Parse("10.255.0.2");
  holdfast::bgp::PeerConfig p;
  p.address = *IpAddress::Parse(kReceiverAddress);
  p.port = receiver_port;
  p.asn = kReceiverAsn;
  p.connect_retry = seconds(1);
  p.local_address = *IpAddress::Parse(kHoldfastAddress);
  p.max_prefixes = 0;  // the receiver sends nothing anyway
  config.peers.push_back(p);
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  absl::StatusOr<std::unique_ptr<holdfast::bgp::Speaker>> speaker =
      holdfast::bgp::Speaker::Create(io, config);
  if (!speaker.ok()) Die(std::string(speaker.status().message()));
  std::thread io_thread;
  struct StopIo {
    asio::io_context& io;
    std::thread& thread;
    ~StopIo() {
      io.stop();
      if (thread.joinable()) thread.join();
    }
  } stop_io{io, io_thread};

  if (absl::Status s = (*speaker)->Start(); !s.ok()) Die(std::string(s.message()));
  io_thread = std::thread([&] { io.run(); });
  auto holdfast_up = [&] {
    return (*speaker)->Status().at(0).state == holdfast::bgp::State::kEstablished &&
           Established(rx, "from_holdfast");
  };
  if (!holdfast::testing::WaitUntil([&] { return holdfast_up() && Established(rx, "from_bird"); },
                                    seconds(30))) {
    Die("sessions do not come up: " + rx.Command("show protocols"));
  }
  std::printf("bgp: %d IPv4 + %d IPv6 prefixes to a BIRD receiver, %d withdrawn, %d round(s)\n",
              ipv4, ipv6, withdraw, rounds);
  std::fflush(stdout);

  std::vector<double> h_announce, b_announce, h_total, b_total, h_withdraw, b_withdraw;
  struct Result {
    Timing announce;
    double withdraw = 0;
  };
  auto run_holdfast = [&] {
    Result r;
    // The sets are copied before the clock starts: the speaker takes its set by value, and a
    // caller builds a new one per change anyway and moves it in.
    std::vector<Announcement> set = all;
    const double command = Now();
    Clock::time_point start = Clock::now();
    (*speaker)->SetAnnouncements(std::move(set));
    WaitFor(rx, "from_holdfast", total, false, start, kPoll);
    r.announce = Arrivals(rx, "from_holdfast", total, command);
    set = fewer;
    start = Clock::now();
    (*speaker)->SetAnnouncements(std::move(set));
    r.withdraw = WaitFor(rx, "from_holdfast", total - withdraw, true, start, kFinePoll);
    (*speaker)->SetAnnouncements({});
    WaitFor(rx, "from_holdfast", 0, true, Clock::now(), kPoll);
    if (!holdfast_up()) Die("the holdfast session went down");
    return r;
  };
  auto run_bird = [&] {
    Result r;
    const double command = Now();
    Clock::time_point start = Clock::now();
    tx.Command("enable \"s_*\"");
    WaitFor(rx, "from_bird", total, false, start, kPoll);
    r.announce = Arrivals(rx, "from_bird", total, command);
    start = Clock::now();
    tx.Command("disable s_wd");
    r.withdraw = WaitFor(rx, "from_bird", total - withdraw, true, start, kFinePoll);
    tx.Command("disable \"s_*\"");
    WaitFor(rx, "from_bird", 0, true, Clock::now(), kPoll);
    return r;
  };
  // One round that does not count: the receiver's table grows to its size (and the speaker's
  // memory with it) once, not in whichever sender's turn comes first.
  run_holdfast();
  run_bird();
  for (int round = 1; round <= rounds; ++round) {
    // Turns alternate, so neither sender always follows the other.
    Result h, b;
    if (round % 2 == 1) {
      h = run_holdfast();
      b = run_bird();
    } else {
      b = run_bird();
      h = run_holdfast();
    }
    std::printf(
        "round %d: holdfast announce %.3f s (%.3f s from the call), withdraw %.3f s; "
        "bird announce %.3f s (%.3f s from enable), withdraw %.3f s\n",
        round, h.announce.first_to_all, h.announce.command_to_all, h.withdraw,
        b.announce.first_to_all, b.announce.command_to_all, b.withdraw);
    std::fflush(stdout);
    h_announce.push_back(h.announce.first_to_all);
    b_announce.push_back(b.announce.first_to_all);
    h_total.push_back(h.announce.command_to_all);
    b_total.push_back(b.announce.command_to_all);
    h_withdraw.push_back(h.withdraw);
    b_withdraw.push_back(b.withdraw);
  }
  const double h = Median(h_announce), b = Median(b_announce);
  std::printf("from the command to the last prefix (median): holdfast %.3f s, bird %.3f s\n",
              Median(h_total), Median(b_total));
  std::printf("withdrawal of %d prefixes (median): holdfast %.3f s, bird %.3f s\n", withdraw,
              Median(h_withdraw), Median(b_withdraw));
  // A time below the poll interval is one poll: the ratio stays finite.
  const double h_floor = std::max(h, 0.001);
  std::printf("bgp ratio bird/holdfast: %.2f (holdfast %.3f s, bird %.3f s)\n", b / h_floor, h, b);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, OnSignal);
  ::signal(SIGTERM, OnSignal);
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bgp_bench: failed: %s\n", e.what());
    return 1;
  }
}
