// What no well-behaved client sends: garbage, responses, pipelined and idle TCP, floods. Raw
// sockets on loopback against the in-process server.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <deque>
#include <string>
#include <vector>

#include "tests/integration/dns/test_data.h"
#include "tests/integration/dns/test_server.h"
#include "tests/support/process.h"

namespace holdfast::dns::testing {
namespace {

using namespace std::chrono_literals;
using holdfast::testing::WaitUntil;

ServerOptions Options() {
  ServerOptions o;
  o.rate_limit.responses_per_second = 0;
  o.trusted_prefixes.push_back(*net::IpPrefix::Parse("127.0.0.0/8"));
  return o;
}

// True when the server closed `fd` (EOF or a reset) within `wait`.
bool ClosedByServer(const Fd& fd, std::chrono::milliseconds wait) {
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
  char c;
  return ::recv(fd.get(), &c, 1, MSG_DONTWAIT) <= 0;
}

// The tests that fill the server's TCP table hold both ends of every connection in this
// process: raises the soft limit on descriptors to `needed` (for the rest of the run).
void RequireFdLimit(rlim_t needed) {
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    INFO("RLIMIT_NOFILE hard limit " << limit.rlim_max << ", " << needed << " needed");
    REQUIRE((limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= needed));
    limit.rlim_cur = needed;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
  }
}

// Opens `count` TCP connections to the server, the i-th from sources(i); bounded in time too.
template <typename Source>
void ConnectMany(std::deque<Fd>& fds, size_t count, uint16_t port, Source sources) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (size_t i = 0; i < count; ++i) {
    fds.emplace_back(::socket(AF_INET, SOCK_STREAM, 0));
    const std::string source = sources(i);
    INFO("connection " << i << " from " << source);
    REQUIRE(ConnectTcpFrom(fds.back(), source.c_str(), port));
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
}

TEST_CASE("FORMERR for garbage after a valid header, silence for less", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  Fd udp(::socket(AF_INET, SOCK_DGRAM, 0));
  // ID 0x4242, RD, one question, then bytes that are no name.
  SendUdp(udp, server.port(),
          std::string("\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff\xff", 15));
  std::optional<std::string> reply = ReceiveUdp(udp, 5000ms);
  REQUIRE(reply.has_value());
  absl::StatusOr<Message> m = Decode(*reply);
  REQUIRE(m.ok());
  CHECK(m->header.id == 0x4242);
  CHECK(m->header.qr);
  CHECK(m->rcode() == kRcodeFormErr);
  CHECK(m->questions.empty());

  // Two questions decode but are still FORMERR.
  std::string two = QueryWire(7, "example.net", kTypeA);
  two[5] = 2;
  two += two.substr(12);
  SendUdp(udp, server.port(), two);
  reply = ReceiveUdp(udp, 5000ms);
  REQUIRE(reply.has_value());
  CHECK(Decode(*reply)->rcode() == kRcodeFormErr);

  // Shorter than a header, and a response (QR set): no answer. The valid query after them
  // is answered, and it is the only datagram that comes back.
  SendUdp(udp, server.port(), std::string("\x01\x02\x03\x04\x05", 5));
  std::string response = QueryWire(8, "example.net", kTypeA);
  response[2] = static_cast<char>(response[2] | 0x80);
  SendUdp(udp, server.port(), response);
  SendUdp(udp, server.port(), QueryWire(9, "example.net", kTypeSoa));
  reply = ReceiveUdp(udp, 5000ms);
  REQUIRE(reply.has_value());
  CHECK(Decode(*reply)->header.id == 9);
  CHECK_FALSE(ReceiveUdp(udp, 200ms).has_value());
  CHECK(server.metrics().ignored.load() == 2);
  CHECK(server.metrics().malformed.load() == 1);
}

TEST_CASE("pipelined TCP queries are all answered on one connection", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  Fd tcp(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcp(tcp, server.port()));
  // Five queries in one write, the last one's length split from its body across two.
  std::string burst;
  const std::vector<std::pair<std::string, uint16_t>> queries = {{"mail.example.net", kTypeA},
                                                                 {"example.net", kTypeMx},
                                                                 {"nope.example.net", kTypeA},
                                                                 {"big.example.net", kTypeTxt},
                                                                 {"www.example.com", kTypeA}};
  for (size_t i = 0; i < queries.size() - 1; ++i) {
    burst += Framed(QueryWire(static_cast<uint16_t>(100 + i), queries[i].first, queries[i].second));
  }
  const std::string last = Framed(QueryWire(104, queries[4].first, queries[4].second));
  REQUIRE(SendAll(tcp, burst + last.substr(0, 1)));
  REQUIRE(SendAll(tcp, last.substr(1)));
  const std::vector<uint16_t> rcodes = {kRcodeNoError, kRcodeNoError, kRcodeNxDomain, kRcodeNoError,
                                        kRcodeRefused};
  for (size_t i = 0; i < queries.size(); ++i) {
    std::optional<std::string> reply = ReceiveFramed(tcp, 5000ms);
    REQUIRE(reply.has_value());
    absl::StatusOr<Message> m = Decode(*reply);
    REQUIRE(m.ok());
    // In order (RFC 7766 allows any order; ours is the query order).
    CHECK(m->header.id == 100 + i);
    CHECK(m->rcode() == rcodes[i]);
    CHECK_FALSE(m->header.tc);
  }
  CHECK(server.metrics().tcp_connections_accepted.load() == 1);
}

TEST_CASE("an idle TCP connection is closed", "[dns][integration]") {
  ServerOptions options = Options();
  options.tcp_idle_timeout = 300ms;
  TestServer server(options, IntegrationData());
  Fd tcp(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcp(tcp, server.port()));
  // One query keeps it open for now.
  REQUIRE(SendAll(tcp, Framed(QueryWire(1, "example.net", kTypeSoa))));
  REQUIRE(ReceiveFramed(tcp, 5000ms).has_value());
  // Then silence: the server closes, so the next read sees EOF, not a timeout.
  pollfd p{tcp.get(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 10000) == 1);
  char c;
  CHECK(::recv(tcp.get(), &c, 1, 0) == 0);
  CHECK(
      WaitUntil([&] { return server.metrics().tcp_connections_idle_closed.load() == 1; }, 5000ms));
  CHECK(WaitUntil([&] { return server.metrics().tcp_connections_active.load() == 0; }, 5000ms));
}

TEST_CASE("a new TCP connection is closed at once when every slot has a query in progress",
          "[dns][integration]") {
  ServerOptions options = Options();
  options.max_tcp_connections = 2;
  TestServer server(options, IntegrationData());
  Fd first(::socket(AF_INET, SOCK_STREAM, 0));
  Fd second(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcp(first, server.port()));
  REQUIRE(ConnectTcp(second, server.port()));
  REQUIRE(WaitUntil([&] { return server.metrics().tcp_connections_accepted.load() == 2; }, 5000ms));
  // Half a query on each: busy, so neither may be closed to make room. (On loopback the octets
  // are in the server's receive buffer when send returns; read or not, they count.)
  const std::string query = Framed(QueryWire(5, "example.net", kTypeSoa));
  REQUIRE(SendAll(first, query.substr(0, 5)));
  REQUIRE(SendAll(second, query.substr(0, 5)));
  Fd third(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcp(third, server.port()));
  CHECK(ClosedByServer(third, 10000ms));
  CHECK(server.metrics().tcp_connections_refused.load() == 1);
  CHECK(server.metrics().tcp_connections_evicted.load() == 0);
  // The two admitted ones finish their queries and are answered.
  for (const Fd* fd : {&first, &second}) {
    REQUIRE(SendAll(*fd, query.substr(5)));
    std::optional<std::string> reply = ReceiveFramed(*fd, 5000ms);
    REQUIRE(reply.has_value());
    CHECK(Decode(*reply)->answers.size() == 1);
  }
}

TEST_CASE("a client's TCP connections past its limit are closed at once", "[dns][integration]") {
  ServerOptions options = Options();
  options.max_tcp_connections_per_client = 2;
  TestServer server(options, IntegrationData());
  ServerMetrics& m = server.metrics();
  std::deque<Fd> mine;
  ConnectMany(mine, 2, server.port(), [](size_t) { return std::string("127.0.0.2"); });
  REQUIRE(WaitUntil([&] { return m.tcp_connections_accepted.load() == 2; }, 5000ms));
  Fd over(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcpFrom(over, "127.0.0.2", server.port()));
  CHECK(ClosedByServer(over, 10000ms));
  CHECK(m.tcp_connections_refused_per_client.load() == 1);
  // Another address has its own allowance, and the first two still answer.
  Fd other(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcpFrom(other, "127.0.0.3", server.port()));
  for (const Fd* fd : {&mine[0], &mine[1], &other}) {
    REQUIRE(SendAll(*fd, Framed(QueryWire(6, "example.net", kTypeSoa))));
    REQUIRE(ReceiveFramed(*fd, 5000ms).has_value());
  }
  CHECK(m.tcp_connections_accepted.load() == 3);
  CHECK(m.tcp_connections_evicted.load() == 0);
}

TEST_CASE("a thousand idle TCP connections from one address do not lock out another",
          "[dns][integration]") {
  // The hostile probe: the global limit's worth of idle connections from one address held
  // every slot until the idle timeout, and every other TCP client was refused meanwhile.
  ServerOptions options = Options();
  options.tcp_idle_timeout = std::chrono::minutes(5);  // no help from the watchdog
  const size_t n = options.max_tcp_connections;
  const size_t per_client = options.max_tcp_connections_per_client;
  RequireFdLimit(2 * n + 256);
  TestServer server(options, IntegrationData());
  ServerMetrics& m = server.metrics();
  std::deque<Fd> hog;
  ConnectMany(hog, n, server.port(), [](size_t) { return std::string("127.0.0.2"); });
  // Every one of them seen (admitted or refused) before the other client comes.
  REQUIRE(WaitUntil(
      [&] {
        return m.tcp_connections_accepted.load() + m.tcp_connections_refused.load() +
                   m.tcp_connections_refused_per_client.load() ==
               n;
      },
      10000ms));
  Fd other(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcpFrom(other, "127.0.0.3", server.port()));
  REQUIRE(SendAll(other, Framed(QueryWire(42, "example.net", kTypeSoa))));
  std::optional<std::string> reply = ReceiveFramed(other, 5000ms);
  REQUIRE(reply.has_value());
  CHECK(Decode(*reply)->header.id == 42);
  // The per-client limit turned the rest away at once; no one's connection had to make room.
  CHECK(m.tcp_connections_accepted.load() == per_client + 1);
  CHECK(m.tcp_connections_refused_per_client.load() == n - per_client);
  CHECK(m.tcp_connections_evicted.load() == 0);
  CHECK(ClosedByServer(hog.back(), 5000ms));
}

TEST_CASE("a new client takes the slot of the longest idle TCP connection when all are idle",
          "[dns][integration]") {
  // Many addresses, each under its per-client limit, fill the table with idle connections.
  ServerOptions options = Options();
  options.tcp_idle_timeout = std::chrono::minutes(5);
  const size_t n = options.max_tcp_connections;
  constexpr size_t kAddresses = 40;
  REQUIRE(n % kAddresses == 0);
  REQUIRE(n / kAddresses < options.max_tcp_connections_per_client);
  RequireFdLimit(2 * n + 256);
  TestServer server(options, IntegrationData());
  ServerMetrics& m = server.metrics();
  std::deque<Fd> idle;
  ConnectMany(idle, n, server.port(),
              [](size_t i) { return "127.0.1." + std::to_string(1 + i % kAddresses); });
  REQUIRE(WaitUntil([&] { return m.tcp_connections_accepted.load() == n; }, 10000ms));
  // The first connection asks a query, so the second is the one idle the longest (or, if the
  // server has not yet seen the first go idle again, the oldest idle one anyway).
  const std::string query = Framed(QueryWire(7, "example.net", kTypeSoa));
  REQUIRE(SendAll(idle[0], query));
  REQUIRE(ReceiveFramed(idle[0], 5000ms).has_value());

  Fd newcomer(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcpFrom(newcomer, "127.0.2.1", server.port()));
  REQUIRE(SendAll(newcomer, query));
  std::optional<std::string> reply = ReceiveFramed(newcomer, 5000ms);
  REQUIRE(reply.has_value());
  CHECK(Decode(*reply)->answers.size() == 1);
  CHECK(ClosedByServer(idle[1], 5000ms));
  CHECK(m.tcp_connections_evicted.load() == 1);
  CHECK(m.tcp_connections_refused.load() == 0);
  // No other connection was closed (EOF would make it readable), and the first still answers.
  std::vector<pollfd> rest;
  for (size_t i = 0; i < idle.size(); ++i) {
    if (i != 1) rest.push_back(pollfd{idle[i].get(), POLLIN, 0});
  }
  CHECK(::poll(rest.data(), rest.size(), 0) == 0);
  REQUIRE(SendAll(idle[0], query));
  CHECK(ReceiveFramed(idle[0], 5000ms).has_value());
}

TEST_CASE("rate limiting drops a flood and slips truncated answers", "[dns][integration]") {
  ServerOptions options = Options();
  options.rate_limit = RateLimitOptions{1, 5, 2, 1024};
  TestServer server(options, IntegrationData());
  Fd udp(::socket(AF_INET, SOCK_DGRAM, 0));
  constexpr int kQueries = 40;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kQueries; ++i) {
    SendUdp(udp, server.port(), QueryWire(static_cast<uint16_t>(i), "mail.example.net", kTypeA));
  }
  int full = 0;
  int slipped = 0;
  // Until the server falls silent; at most one reply per query.
  for (int i = 0; i < kQueries; ++i) {
    std::optional<std::string> reply = ReceiveUdp(udp, 1000ms);
    if (!reply.has_value()) break;
    absl::StatusOr<Message> m = Decode(*reply);
    REQUIRE(m.ok());
    if (m->header.tc) {
      CHECK(m->answers.empty());
      ++slipped;
    } else {
      CHECK(m->answers.size() == 2);
      ++full;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("full " << full << " slipped " << slipped << " in " << seconds << " s");
  // The burst of 5, plus one per second that passed.
  CHECK(full >= 5);
  CHECK(full <= 5 + static_cast<int>(seconds) + 1);
  CHECK(slipped >= 1);
  CHECK(full + slipped < kQueries);
  const uint64_t limited =
      server.metrics().rate_limited_dropped.load() + server.metrics().rate_limited_slipped.load();
  CHECK(limited == static_cast<uint64_t>(kQueries - full));
  CHECK(server.metrics().rate_limited_slipped.load() == static_cast<uint64_t>(slipped));
  // TCP is not rate limited: the flooded client still gets its answer that way.
  Fd tcp(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcp(tcp, server.port()));
  REQUIRE(SendAll(tcp, Framed(QueryWire(77, "mail.example.net", kTypeA))));
  std::optional<std::string> reply = ReceiveFramed(tcp, 5000ms);
  REQUIRE(reply.has_value());
  CHECK(Decode(*reply)->answers.size() == 2);
}

TEST_CASE("metrics count queries by type and rcode, and latency", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  Fd udp(::socket(AF_INET, SOCK_DGRAM, 0));
  const std::vector<std::pair<std::string, uint16_t>> queries = {{"mail.example.net", kTypeA},
                                                                 {"ns2.example.net", kTypeAaaa},
                                                                 {"nope.example.net", kTypeA},
                                                                 {"www.example.com", kTypeA},
                                                                 {"example.net", 99}};
  for (size_t i = 0; i < queries.size(); ++i) {
    SendUdp(udp, server.port(),
            QueryWire(static_cast<uint16_t>(i), queries[i].first, queries[i].second));
    REQUIRE(ReceiveUdp(udp, 5000ms).has_value());
  }
  ServerMetrics& m = server.metrics();
  CHECK(m.udp_queries.load() == 5);
  CHECK(m.queries_by_qtype[ServerMetrics::kQtypeA].load() == 3);
  CHECK(m.queries_by_qtype[ServerMetrics::kQtypeAaaa].load() == 1);
  CHECK(m.queries_by_qtype[ServerMetrics::kQtypeOther].load() == 1);
  CHECK(m.responses_by_rcode[kRcodeNoError].load() == 3);
  CHECK(m.responses_by_rcode[kRcodeNxDomain].load() == 1);
  CHECK(m.responses_by_rcode[kRcodeRefused].load() == 1);
  uint64_t latency = 0;
  for (const auto& bucket : m.latency) latency += bucket.load();
  CHECK(latency == 5);
}

}  // namespace
}  // namespace holdfast::dns::testing
