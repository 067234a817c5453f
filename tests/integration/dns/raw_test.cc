// What no well-behaved client sends: garbage, responses, pipelined and idle TCP, floods. Raw
// sockets on loopback against the in-process server.
#include <catch2/catch.hpp>
#include <chrono>
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

TEST_CASE("TCP connections past the limit are closed at once", "[dns][integration]") {
  ServerOptions options = Options();
  options.max_tcp_connections = 2;
  TestServer server(options, IntegrationData());
  Fd first(::socket(AF_INET, SOCK_STREAM, 0));
  Fd second(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcp(first, server.port()));
  REQUIRE(ConnectTcp(second, server.port()));
  REQUIRE(WaitUntil([&] { return server.metrics().tcp_connections_accepted.load() == 2; }, 5000ms));
  Fd third(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(ConnectTcp(third, server.port()));
  pollfd p{third.get(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 10000) == 1);
  char c;
  CHECK(::recv(third.get(), &c, 1, 0) <= 0);
  CHECK(server.metrics().tcp_connections_refused.load() == 1);
  // The two admitted ones still answer.
  for (const Fd* fd : {&first, &second}) {
    REQUIRE(SendAll(*fd, Framed(QueryWire(5, "example.net", kTypeSoa))));
    std::optional<std::string> reply = ReceiveFramed(*fd, 5000ms);
    REQUIRE(reply.has_value());
    CHECK(Decode(*reply)->answers.size() == 1);
  }
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
