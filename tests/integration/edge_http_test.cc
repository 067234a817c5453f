// holdfast-edge with real processes on loopback: python backends (tests/support/backend.py),
// curl as the client, and raw sockets for what curl will not send (smuggling vectors).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/integration/edge_lab.h"

namespace {

using holdfast::testing::EdgeLab;
using holdfast::testing::RawExchange;
using holdfast::testing::RunResult;
using holdfast::testing::TempDir;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

TEST_CASE("the edge proxies GETs to both backends of a cluster, round robin", "[edge][http]") {
  // One worker: round robin is per worker, and two would split the sequence between them.
  EdgeLab lab(EdgeLab::kListeners, EdgeLab::kRoutes, EdgeLab::kClusters, /*workers=*/1);
  std::multiset<std::string> seen;
  for (int i = 0; i < 6; ++i) seen.insert(lab.Get("/page"));
  CHECK(seen.count("web1 /page\n") == 3);
  CHECK(seen.count("web2 /page\n") == 3);
  CHECK(lab.Metric("holdfast_http_responses_total{listener=\"http\",class=\"2xx\"}") == 6);
}

TEST_CASE("maglev keeps a key on one backend, least request spreads over both", "[edge][http]") {
  EdgeLab lab(
      EdgeLab::kListeners, EdgeLab::kRoutes,
      "  - name: web\n"
      "    endpoints: [{address: 127.0.0.1, port: {web1}},"
      " {address: 127.0.0.1, port: {web2}}]\n"
      "    lb_policy: maglev\n"
      "    hash_on: {header: x-user-id}\n"
      "  - name: api\n"
      "    endpoints: [{address: 127.0.0.1, port: {api1}}, {address: 127.0.0.1, port: {web1}},"
      " {address: 127.0.0.1, port: {web2}}]\n"
      "    lb_policy: least_request\n");
  std::set<std::string> users_seen;
  for (int user = 0; user < 12; ++user) {
    const std::string header = "X-User-Id: user-" + std::to_string(user);
    const std::string first = lab.Get("/x", {"-H", header});
    for (int i = 0; i < 3; ++i) CHECK(lab.Get("/x", {"-H", header}) == first);
    users_seen.insert(first);
  }
  CHECK(users_seen == std::set<std::string>{"web1 /x\n", "web2 /x\n"});

  std::set<std::string> spread;
  for (int i = 0; i < 30; ++i) spread.insert(lab.Get("/v1/y", {"-H", "Host: api.example.net"}));
  CHECK(spread.size() == 3);
}

TEST_CASE("requests are routed by host and path prefix", "[edge][http]") {
  EdgeLab lab;
  CHECK(lab.Get("/v1/users", {"-H", "Host: api.example.net"}) == "api1 /v1/users\n");
  CHECK(lab.Get("/v1/users", {"-H", "Host: API.Example.NET:8080"}) == "api1 /v1/users\n");
  // Another host, or another path on the API host, goes to the catch-all.
  CHECK(lab.Get("/v1/users", {"-H", "Host: www.example.net"}).rfind("web", 0) == 0);
  CHECK(lab.Get("/v2/users", {"-H", "Host: api.example.net"}).rfind("web", 0) == 0);
}

TEST_CASE("a request with no route is answered 404 by the edge", "[edge][http]") {
  EdgeLab lab(EdgeLab::kListeners,
              "  - {name: api, match: {host: api.example.net}, cluster: api}\n");
  CHECK(lab.Status("/", {"-H", "Host: other.example.net"}) == 404);
  CHECK(lab.Status("/", {"-H", "Host: api.example.net"}) == 200);
}

TEST_CASE("a request the edge answers itself is answered once, then the next is served",
          "[edge][http]") {
  EdgeLab lab(EdgeLab::kListeners,
              "  - {name: api, match: {host: api.example.net}, cluster: api}\n");
  const std::string reply =
      RawExchange(lab.http_port(),
                  "GET /nowhere HTTP/1.1\r\nHost: other.example.net\r\n\r\n"
                  "GET /next HTTP/1.1\r\nHost: api.example.net\r\nConnection: close\r\n\r\n");
  const size_t not_found = reply.find("HTTP/1.1 404");
  REQUIRE(not_found != std::string::npos);
  CHECK(reply.find("HTTP/1.1 404", not_found + 1) == std::string::npos);
  CHECK(reply.find("api1 /next\n") != std::string::npos);

  // The answer to a HEAD has no body, so the next response is read where it starts.
  const std::string head =
      RawExchange(lab.http_port(),
                  "HEAD /nowhere HTTP/1.1\r\nHost: other.example.net\r\n\r\n"
                  "GET /next HTTP/1.1\r\nHost: api.example.net\r\nConnection: close\r\n\r\n");
  const size_t end_of_head = head.find("\r\n\r\n");
  INFO(head);
  REQUIRE(head.rfind("HTTP/1.1 404", 0) == 0);
  REQUIRE(end_of_head != std::string::npos);
  CHECK(head.compare(end_of_head + 4, 12, "HTTP/1.1 200") == 0);
}

TEST_CASE("the backend sees forwarding fields and the client's own fields, not hop-by-hop ones",
          "[edge][http]") {
  EdgeLab lab;
  const RunResult r =
      lab.Curl({"-H", "X-Forwarded-For: 198.51.100.7", "-H", "X-Custom: kept", "-H",
                "Connection: keep-alive, X-Drop-Me", "-H", "X-Drop-Me: 1", lab.Url("/echo?q=1")});
  INFO(r.out << r.err);
  const nlohmann::json echo = nlohmann::json::parse(r.out);
  std::map<std::string, std::string> headers;
  for (const auto& h : echo["headers"]) headers[h[0].get<std::string>()] = h[1];
  CHECK(echo["target"] == "/echo?q=1");
  CHECK(headers["X-Forwarded-For"] == "198.51.100.7, 127.0.0.1");
  CHECK(headers["X-Forwarded-Proto"] == "http");
  CHECK(headers["Forwarded"] == "for=127.0.0.1;proto=http");
  CHECK(headers["Via"] == "1.1 holdfast");
  CHECK(headers["X-Custom"] == "kept");
  CHECK(headers.count("X-Drop-Me") == 0);
  CHECK(headers.count("Connection") == 0);
}

TEST_CASE("request bodies reach the backend, with Content-Length and chunked", "[edge][http]") {
  EdgeLab lab;
  const std::string body(100000, 'x');
  std::ofstream(std::filesystem::temp_directory_path() / "hf-edge-body") << body;
  for (const bool chunked : {false, true}) {
    INFO("chunked: " << chunked);
    std::vector<std::string> args = {
        "--data-binary", "@" + (std::filesystem::temp_directory_path() / "hf-edge-body").string(),
        lab.Url("/echo")};
    if (chunked) args.insert(args.begin(), {"-H", "Transfer-Encoding: chunked"});
    const RunResult r = lab.Curl(args);
    INFO(r.err);
    const nlohmann::json echo = nlohmann::json::parse(r.out);
    CHECK(echo["method"] == "POST");
    CHECK(echo["body"].get<std::string>().size() == body.size());
  }
  std::filesystem::remove(std::filesystem::temp_directory_path() / "hf-edge-body");
}

TEST_CASE("chunked responses and keep-alive reach the client intact", "[edge][http]") {
  EdgeLab lab;
  const RunResult r =
      lab.Curl({"-v", lab.Url("/chunked"), lab.Url("/chunked"), lab.Url("/status/204")});
  INFO(r.err);
  CHECK(r.out == "one two three\none two three\n");
  // curl reuses the one connection for all three requests.
  CHECK(r.err.find("Re-using existing connection") != std::string::npos);
  CHECK(r.err.find("Connection #0 to host 127.0.0.1 left intact") != std::string::npos);
  CHECK(lab.Metric("holdfast_listener_connections_total{listener=\"http\"}") == 1);
}

TEST_CASE("smuggling vectors are answered 400 and never forwarded", "[edge][http]") {
  EdgeLab lab;
  const char* vector = GENERATE(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nX",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nContent-Length: 5\r\n\r\nhello!",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", "GET / HTTP/1.1\nHost: a\n\n");
  INFO(vector);
  const std::string reply = RawExchange(lab.http_port(), vector);
  CHECK(reply.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(reply.find("Connection: close") != std::string::npos);
  CHECK(lab.Metric("holdfast_upstream_requests_total{cluster=\"web\"}") == 0);
  CHECK(lab.Metric("holdfast_http_bad_requests_total{listener=\"http\"}") == 1);
}

TEST_CASE("too many header fields are a 431, a target too long a 414", "[edge][http]") {
  EdgeLab lab;
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 150; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(RawExchange(lab.http_port(), many + "\r\n")
            .rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0) == 0);
  const std::string long_target =
      "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  CHECK(RawExchange(lab.http_port(), long_target).rfind("HTTP/1.1 414 URI Too Long\r\n", 0) == 0);
  CHECK(lab.Metric("holdfast_upstream_requests_total{cluster=\"web\"}") == 0);
}

TEST_CASE("a request with a bad chunk size is cut off, and nothing after it is forwarded",
          "[edge][http]") {
  EdgeLab lab;
  // The second request hides inside the first one's body for a parser that misreads chunks.
  const std::string reply =
      RawExchange(lab.http_port(),
                  "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "zz\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(reply.find("/smuggled") == std::string::npos);
  // The POST's head went on before its body broke; the hidden GET never did.
  CHECK(lab.Metric("holdfast_upstream_requests_total{cluster=\"web\"}") == 1);
}

TEST_CASE("a dead backend is routed around, and a dead cluster is a 502", "[edge][http]") {
  EdgeLab lab;
  lab.KillBackend("web2");
  for (int i = 0; i < 6; ++i) CHECK(lab.Get("/x") == "web1 /x\n");
  CHECK(lab.Metric("holdfast_upstream_connect_failures_total{cluster=\"web\"}") >= 1);
  CHECK(lab.Metric("holdfast_upstream_retries_total{cluster=\"web\"}") >= 1);
  lab.KillBackend("web1");
  CHECK(lab.Status("/x") == 502);
  lab.KillBackend("api1");
  CHECK(lab.Status("/v1/x", {"-H", "Host: api.example.net"}) == 502);
}

TEST_CASE("a route that retries 5xx sends an idempotent request to another endpoint",
          "[edge][http]") {
  EdgeLab lab(EdgeLab::kListeners,
              "  - {name: web, match: {path_prefix: /}, cluster: web,"
              " retry: {attempts: 1, on: [5xx]}}\n",
              EdgeLab::kClusters, /*workers=*/1);
  lab.BackendGet("web2", "/fail-all");
  for (int i = 0; i < 4; ++i) CHECK(lab.Get("/x") == "web1 /x\n");
  CHECK(lab.Metric("holdfast_upstream_retries_total{cluster=\"web\"}") >= 2);
  // A POST is not sent twice: web2's 500 reaches the client.
  std::multiset<std::string> statuses;
  for (int i = 0; i < 2; ++i) {
    statuses.insert(std::to_string(lab.Status("/x", {"-X", "POST", "--data", "a=1"})));
  }
  CHECK(statuses == std::multiset<std::string>{"200", "500"});
}

TEST_CASE("pipelined requests are answered in order on one connection", "[edge][http]") {
  EdgeLab lab(EdgeLab::kListeners, EdgeLab::kRoutes, EdgeLab::kClusters, /*workers=*/1);
  const std::string reply =
      RawExchange(lab.http_port(),
                  "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
                  "GET /second HTTP/1.1\r\nHost: a\r\n\r\n"
                  "GET /third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  const size_t first = reply.find(" /first\n");
  const size_t second = reply.find(" /second\n");
  const size_t third = reply.find(" /third\n");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  REQUIRE(third != std::string::npos);
  CHECK(first < second);
  CHECK(second < third);
  CHECK(lab.Metric("holdfast_listener_connections_total{listener=\"http\"}") == 1);
}

TEST_CASE("a backend slower than the route's timeout gets the client a 504", "[edge][http]") {
  EdgeLab lab(EdgeLab::kListeners,
              "  - {name: web, match: {path_prefix: /}, cluster: web, timeout: 300ms}\n");
  const RunResult r = lab.Curl({"-i", lab.Url("/slow?ms=3000")});
  CHECK(r.out.rfind("HTTP/1.1 504 Gateway Timeout", 0) == 0);
  CHECK(lab.Metric("holdfast_upstream_timeouts_total{cluster=\"web\"}") == 1);
  // The edge goes on serving.
  CHECK(lab.Status("/") == 200);
}

TEST_CASE("a cluster over its request limit sheds with 503 and Retry-After", "[edge][http]") {
  EdgeLab lab(EdgeLab::kListeners, EdgeLab::kRoutes,
              "  - name: web\n"
              "    endpoints: [{address: 127.0.0.1, port: {web1}}]\n"
              "    circuit_breakers: {max_requests: 1}\n"
              "  - name: api\n"
              "    endpoints: [{address: 127.0.0.1, port: {api1}}]\n");
  std::string slow;
  std::thread holder([&] { slow = lab.Get("/slow?ms=1500"); });
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_upstream_requests_active{cluster=\"web\"}") == 1; }, 5s));
  const RunResult shed = lab.Curl({"-i", lab.Url("/x")});
  CHECK(shed.out.rfind("HTTP/1.1 503", 0) == 0);
  // One refusal against steady answers: come back in a second or two (jittered).
  CHECK(std::regex_search(shed.out, std::regex("\r\nRetry-After: [12]\r\n")));
  CHECK(lab.Metric("holdfast_shed_total{cluster=\"web\",reason=\"max_requests\"}") == 1);
  // Another cluster is not affected, and what was admitted completes.
  CHECK(lab.Get("/v1/x", {"-H", "Host: api.example.net"}) == "api1 /v1/x\n");
  holder.join();
  CHECK(slow.find("slow 1500") != std::string::npos);
}

TEST_CASE("flooded far past its limits, the edge sheds, keeps its admin answering, and recovers",
          "[edge][overload]") {
  EdgeLab lab("  - {name: http, port: {http}, protocol: http, max_connections: 50}\n",
              EdgeLab::kRoutes,
              "  - name: web\n"
              "    endpoints: [{address: 127.0.0.1, port: {web1}},"
              " {address: 127.0.0.1, port: {web2}}]\n"
              "    circuit_breakers: {max_requests: 8}\n"
              "  - name: api\n"
              "    endpoints: [{address: 127.0.0.1, port: {api1}}]\n");
  // 400 connections against a listener that admits 50, on a cluster that takes 8 at once.
  std::thread flood([&] {
    holdfast::testing::Run({"/usr/bin/wrk", "-t2", "-c400", "-d4s", lab.Url("/slow?ms=20")},
                           lab.dir(), 30s);
  });
  REQUIRE(WaitUntil(
      [&] {
        return lab.Metric("holdfast_listener_connections_refused_total{listener=\"http\"}") > 0 &&
               lab.Metric("holdfast_shed_total{cluster=\"web\",reason=\"max_requests\"}") +
                       lab.Metric(
                           "holdfast_shed_total{cluster=\"web\",reason=\"concurrency_limit\"}") >
                   0;
      },
      10s));
  // The admin listener answers during the flood.
  CHECK(lab.Admin("/healthz") == "ok\n");
  flood.join();
  // Afterwards: every admitted connection is gone, and new requests are served.
  CHECK(WaitUntil(
      [&] { return lab.Metric("holdfast_listener_connections_active{listener=\"http\"}") == 0; },
      10s));
  CHECK(lab.Status("/") == 200);
  CHECK(lab.Metric("holdfast_upstream_requests_active{cluster=\"web\"}") == 0);
}

TEST_CASE("a TCP listener passes bytes both ways to its cluster", "[edge][tcp]") {
  EdgeLab lab;
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    const RunResult r = lab.Curl({"http://127.0.0.1:" + std::to_string(lab.tcp_port()) + "/l4"});
    seen.insert(r.out);
  }
  CHECK(seen == std::set<std::string>{"web1 /l4\n", "web2 /l4\n"});
  // Half-close: the client shuts its side after the request; the answer still comes back.
  const std::string reply = RawExchange(lab.tcp_port(), "GET /half HTTP/1.0\r\n\r\n");
  CHECK(reply.find(" /half") != std::string::npos);
}

TEST_CASE("connections over max_connections are closed at once, admitted ones keep working",
          "[edge][http]") {
  EdgeLab lab("  - {name: http, port: {http}, protocol: http, max_connections: 2}\n");
  // Two idle keep-alive connections hold both places.
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(lab.http_port());
    ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    held.push_back(fd);
  }
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_listener_connections_active{listener=\"http\"}") == 2; },
      5s));
  CHECK(lab.Status("/") == 0);  // closed without an answer
  CHECK(lab.Metric("holdfast_listener_connections_refused_total{listener=\"http\"}") >= 1);
  // The admitted connections are still served.
  const std::string ok = "GET /held HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(held[0], ok.data(), ok.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(ok.size()));
  char buf[512];
  timeval tv{3, 0};
  ::setsockopt(held[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const ssize_t n = ::recv(held[0], buf, sizeof buf, 0);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 200", 0) == 0);
  for (const int fd : held) ::close(fd);
  // Once they are gone, new connections are admitted again.
  CHECK(WaitUntil([&] { return lab.Status("/") == 200; }, 5s));
}

// A keep-alive client connection to `address` (IPv4 or IPv6) and `port`, with a 6 s receive
// timeout.
int ConnectKeepAlive(uint16_t port, const char* address = "127.0.0.1") {
  sockaddr_storage ss{};
  socklen_t size = 0;
  if (std::string_view(address).find(':') != std::string_view::npos) {
    auto& sa = reinterpret_cast<sockaddr_in6&>(ss);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    REQUIRE(::inet_pton(AF_INET6, address, &sa.sin6_addr) == 1);
    size = sizeof sa;
  } else {
    auto& sa = reinterpret_cast<sockaddr_in&>(ss);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    REQUIRE(::inet_pton(AF_INET, address, &sa.sin_addr) == 1);
    size = sizeof sa;
  }
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{6, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&ss), size) == 0);
  return fd;
}

// Sends a GET for `path` on `fd` and reads one whole response (its Content-Length body).
std::string KeepAliveGet(int fd, const std::string& path) {
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  for (;;) {
    const size_t end = out.find("\r\n\r\n");
    std::smatch m;
    if (end != std::string::npos &&
        std::regex_search(out, m, std::regex("Content-Length: ([0-9]+)", std::regex::icase)) &&
        out.size() >= end + 4 + std::stoul(m[1])) {
      return out;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

TEST_CASE("an idle keep-alive connection is parked, serves its next request, and times out",
          "[edge][http]") {
  EdgeLab lab("  - {name: http, port: {http}, protocol: http, idle_timeout: 2s}\n");
  const std::string parked = "holdfast_listener_connections_parked{listener=\"http\"}";
  const int fd = ConnectKeepAlive(lab.http_port());
  CHECK(KeepAliveGet(fd, "/first").find(" /first") != std::string::npos);
  // Idle for a moment: parked, still open.
  REQUIRE(WaitUntil([&] { return lab.Metric(parked) == 1; }, 5s));
  CHECK(lab.Metric("holdfast_listener_connections_active{listener=\"http\"}") == 1);
  // The next request on it is served as if nothing happened, and it parks again.
  const std::string second = KeepAliveGet(fd, "/second");
  CHECK(second.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(second.find(" /second") != std::string::npos);
  REQUIRE(WaitUntil([&] { return lab.Metric(parked) == 1; }, 5s));
  // The idle timeout still applies: the edge closes it (end of stream, not our 6 s timeout).
  char byte;
  CHECK(::recv(fd, &byte, 1, 0) == 0);
  ::close(fd);
  CHECK(WaitUntil([&] { return lab.Metric(parked) == 0; }, 5s));
  CHECK(WaitUntil(
      [&] { return lab.Metric("holdfast_listener_connections_active{listener=\"http\"}") == 0; },
      5s));
}

TEST_CASE("a parked IPv6 connection serves its next request", "[edge][http]") {
  EdgeLab lab("  - {name: http, address: \"::1\", port: {http}, protocol: http}\n");
  const std::string parked = "holdfast_listener_connections_parked{listener=\"http\"}";
  const int fd = ConnectKeepAlive(lab.http_port(), "::1");
  CHECK(KeepAliveGet(fd, "/first").find(" /first") != std::string::npos);
  REQUIRE(WaitUntil([&] { return lab.Metric(parked) == 1; }, 5s));
  // The resumed session forwards the client's IPv6 address (the backend echoes the fields).
  const std::string second = KeepAliveGet(fd, "/echo");
  CHECK(second.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(second.find("::1") != std::string::npos);
  ::close(fd);
  CHECK(WaitUntil([&] { return lab.Metric(parked) == 0; }, 5s));
}

TEST_CASE("a parked connection closed by its client is freed, and draining closes the others",
          "[edge][lifecycle]") {
  EdgeLab lab;
  const std::string parked = "holdfast_listener_connections_parked{listener=\"http\"}";
  const int gone = ConnectKeepAlive(lab.http_port());
  const int stays = ConnectKeepAlive(lab.http_port());
  CHECK(KeepAliveGet(gone, "/a").find(" /a") != std::string::npos);
  CHECK(KeepAliveGet(stays, "/b").find(" /b") != std::string::npos);
  REQUIRE(WaitUntil([&] { return lab.Metric(parked) == 2; }, 5s));
  ::close(gone);
  CHECK(WaitUntil([&] { return lab.Metric(parked) == 1; }, 5s));
  CHECK(lab.Metric("holdfast_listener_connections_active{listener=\"http\"}") == 1);
  // SIGTERM: the idle connection is closed at once, not held until the drain deadline (10 s).
  lab.edge().Signal(SIGTERM);
  char byte;
  CHECK(::recv(stays, &byte, 1, 0) == 0);
  ::close(stays);
  const std::optional<int> code = lab.edge().Wait(10s);
  INFO(lab.edge().Output());
  REQUIRE(code == std::optional<int>(0));
  CHECK(lab.edge().Output().find("event=edge.stopped connections_cut=0") != std::string::npos);
}

TEST_CASE("SIGTERM drains: in-flight requests finish, /ready says 503, then exit 0",
          "[edge][lifecycle]") {
  EdgeLab lab;
  std::string slow;
  std::thread client([&] { slow = lab.Get("/slow?ms=1500"); });
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_upstream_requests_active{cluster=\"web\"}") == 1; }, 5s));
  lab.edge().Signal(SIGTERM);
  REQUIRE(WaitUntil(
      [&] { return lab.edge().Output().find("event=edge.draining") != std::string::npos; }, 5s));
  // New connections are refused while the slow one finishes, and /ready says why.
  CHECK(lab.Status("/") != 200);
  CHECK(lab.Curl({"http://127.0.0.1:" + std::to_string(lab.admin_port()) + "/ready"}).out ==
        "draining\n");
  client.join();
  CHECK(slow.find("slow 1500") != std::string::npos);
  const std::optional<int> code = lab.edge().Wait(10s);
  INFO(lab.edge().Output());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(lab.edge().Output().find("event=edge.stopped connections_cut=0") != std::string::npos);
}

TEST_CASE("the admin listener answers health, readiness, clusters and config", "[edge][admin]") {
  EdgeLab lab;
  const std::string admin = "http://127.0.0.1:" + std::to_string(lab.admin_port());
  CHECK(lab.Curl({admin + "/healthz"}).out == "ok\n");
  CHECK(lab.Curl({admin + "/ready"}).out == "ready\n");
  const nlohmann::json clusters = nlohmann::json::parse(lab.Curl({admin + "/clusters"}).out);
  CHECK(clusters["clusters"].size() == 2);
  CHECK(clusters["clusters"][0]["endpoints"].size() == 2);
  const nlohmann::json config = nlohmann::json::parse(lab.Curl({admin + "/config"}).out);
  CHECK(config["node"] == "node-1");
  CHECK(config["pop"] == "test");
  CHECK_FALSE(config["version"].get<std::string>().empty());
}

TEST_CASE("an invalid config stops the edge at start with the finding", "[edge][lifecycle]") {
  TempDir dir;
  std::ofstream(dir.path() / "bad.yaml")
      << "listeners:\n  - {name: http, port: 0, protocol: http}\n";
  const RunResult r = holdfast::testing::Run(
      {HF_EDGE, "--config", (dir.path() / "bad.yaml").string(), "--node", "n"}, dir.path());
  INFO(r.out << r.err);
  REQUIRE(r.exited);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("event=config.finding") != std::string::npos);
  CHECK(r.err.find("event=edge.config_rejected") != std::string::npos);
}

TEST_CASE("with --log-format json every log line is one JSON object with the event's fields",
          "[edge][lifecycle]") {
  TempDir dir;
  std::ofstream(dir.path() / "bad.yaml")
      << "listeners:\n  - {name: http, port: 0, protocol: http}\n";
  const RunResult r =
      holdfast::testing::Run({HF_EDGE, "--config", (dir.path() / "bad.yaml").string(), "--node",
                              "n", "--log-format", "json"},
                             dir.path());
  REQUIRE(r.exited);
  CHECK(r.exit_code == 1);
  std::set<std::string> events;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    const nlohmann::json j = nlohmann::json::parse(line);
    CHECK(j.contains("time"));
    CHECK(j.contains("level"));
    events.insert(j.value("event", ""));
    if (j["event"] == "config.finding") {
      CHECK(j["code"] == "HF2004");
      CHECK(j["line"] == 2);
    }
  }
  CHECK(events == std::set<std::string>{"config.finding", "edge.config_rejected"});
}

}  // namespace
