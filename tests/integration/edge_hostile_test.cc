// The edge against hostile peers: a raw backend that breaks HTTP/1.1 on purpose
// (tests/support/raw_backend.h) and raw-socket clients sending what no conforming client sends.
// Each case is a class of input a probe found forwarded or mishandled; each fails without its fix.
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/integration/edge_lab.h"
#include "tests/support/raw_backend.h"

namespace {

using holdfast::testing::EdgeLab;
using holdfast::testing::RawBackend;
using holdfast::testing::RawExchange;
using holdfast::testing::RunResult;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

constexpr const char* kHttpOnly = "  - {name: http, port: {http}, protocol: http}\n";

// An edge with one worker (one pool of backend connections) in front of `backend` alone.
std::unique_ptr<EdgeLab> EdgeBefore(const RawBackend& backend,
                                    const std::string& route_extra = "") {
  return std::make_unique<EdgeLab>(
      kHttpOnly, "  - {name: raw, match: {path_prefix: /}, cluster: raw" + route_extra + "}\n",
      "  - name: raw\n    endpoints: [{address: 127.0.0.1, port: " +
          std::to_string(backend.port()) + "}]\n",
      /*workers=*/1);
}

std::string Request(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: www.example.net\r\n" + extra +
         "Connection: close\r\n\r\n";
}

TEST_CASE("bytes a backend sends after a response never answer another client's request",
          "[edge][http][hostile]") {
  std::atomic<int> stray_writes{0};
  RawBackend backend([&](RawBackend::Connection& c) {
    while (const auto request = c.ReadRequest()) {
      if (request->starts_with("GET /no-content ")) {
        // A complete 204, then, a moment later (after the edge has pooled the connection), a
        // response no one asked for.
        if (!c.Write("HTTP/1.1 204 No Content\r\n\r\n")) return;
        std::this_thread::sleep_for(50ms);
        c.Write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\npoison");
        ++stray_writes;
      } else if (request->starts_with("GET /body-and-more ")) {
        c.Write(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\npoison");
        ++stray_writes;
      } else {
        c.Write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nclean");
      }
    }
  });
  auto lab = EdgeBefore(backend);

  CHECK(lab->Status("/no-content") == 204);
  REQUIRE(WaitUntil([&] { return stray_writes == 1; }, 5s));
  for (int i = 0; i < 3; ++i) CHECK(lab->Get("/next") == "clean");
  CHECK(lab->Metric("holdfast_upstream_protocol_errors_total{cluster=\"raw\"}") == 1);

  CHECK(lab->Get("/body-and-more") == "ok");
  for (int i = 0; i < 3; ++i) CHECK(lab->Get("/next") == "clean");
  CHECK(lab->Metric("holdfast_upstream_protocol_errors_total{cluster=\"raw\"}") == 2);
  CHECK(lab->edge().Output().find("event=http.upstream_protocol_error") != std::string::npos);
}

// A backend that answers GETs and closes a connection as soon as it has read a POST on it, as a
// backend does that hits its keep-alive limit or crashes mid-request.
struct PostEater {
  std::atomic<int> posts{0};
  RawBackend backend{[this](RawBackend::Connection& c) {
    while (const auto request = c.ReadRequest()) {
      if (request->starts_with("POST ")) {
        ++posts;
        c.Close();
        return;
      }
      c.Write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwarm");
    }
  }};
};

TEST_CASE("a POST that reached a backend which then closed is not sent again",
          "[edge][http][hostile]") {
  PostEater eater;
  // Retries on reset are on: they still apply to idempotent requests only.
  auto lab = EdgeBefore(eater.backend, ", retry: {attempts: 2, on: [reset, connect_failure]}");
  // A pooled connection to reuse.
  CHECK(lab->Get("/warm") == "warm");
  CHECK(lab->Status("/order", {"-X", "POST"}) == 502);
  // Applied once: no second connection carried it.
  CHECK(eater.posts == 1);
  CHECK(eater.backend.connections() == 1);
}

TEST_CASE("retry_non_idempotent lets a route send a POST again after a reset",
          "[edge][http][hostile]") {
  PostEater eater;
  auto lab =
      EdgeBefore(eater.backend, ", retry: {attempts: 1, on: [reset]}, retry_non_idempotent: true");
  CHECK(lab->Get("/warm") == "warm");
  CHECK(lab->Status("/order", {"-X", "POST"}) == 502);
  // The route asked for it: the reused connection's reset sends it once more, fresh.
  CHECK(eater.posts >= 2);
}

TEST_CASE("framing fields in trailers are not forwarded, other trailer fields are",
          "[edge][http][hostile]") {
  RawBackend backend([](RawBackend::Connection& c) {
    if (!c.ReadUntil("\r\n\r\n") || !c.ReadUntil("\r\n0\r\n") || !c.ReadUntil("\r\n\r\n")) {
      return;
    }
    c.Write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
        "Content-Length: 99\r\nX-Response-Trailer: kept\r\nTransfer-Encoding: chunked\r\n\r\n");
  });
  auto lab = EdgeBefore(backend);
  const std::string reply =
      RawExchange(lab->http_port(),
                  "POST /upload HTTP/1.1\r\nHost: www.example.net\r\nTransfer-Encoding: chunked\r\n"
                  "Connection: close\r\n\r\n"
                  "5\r\nhello\r\n0\r\nContent-Length: 5\r\nX-Request-Trailer: kept\r\n"
                  "Transfer-Encoding: chunked\r\nHost: evil.example\r\n\r\n");
  INFO(reply);
  const std::string received = backend.received();
  const size_t body = received.find("\r\n\r\n");
  REQUIRE(body != std::string::npos);
  CHECK(received.substr(body + 4) == "5\r\nhello\r\n0\r\nX-Request-Trailer: kept\r\n\r\n");
  // The client's copy of the response lost the same fields.
  CHECK(reply.find("2\r\nok\r\n0\r\nX-Response-Trailer: kept\r\n\r\n") != std::string::npos);
  CHECK(reply.find("Content-Length: 99") == std::string::npos);
}

TEST_CASE("request targets no origin-form allows are answered 400 and never forwarded",
          "[edge][http][hostile]") {
  RawBackend backend([](RawBackend::Connection& c) {
    while (c.ReadRequest()) c.Write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine");
  });
  auto lab = EdgeBefore(backend);
  for (const std::string target :
       {"/static/page#fragment", "/static#/../admin", "/static/..\\admin", "/static\\..\\admin",
        "/static/../admin", "/static/./admin", "/static/..", "/static/%2e%2e/admin",
        "/static/.%2E/admin", "/static/..%2fadmin", "/static/..%5Cadmin", "/static/../admin?q=1",
        "http://www.example.net/static/../admin"}) {
    INFO(target);
    CHECK(RawExchange(lab->http_port(), Request(target)).starts_with("HTTP/1.1 400 "));
  }
  CHECK(backend.received().empty());
  // What looks like them and is not: passed on.
  CHECK(RawExchange(lab->http_port(), Request("/static/...x/%2Fkeep/.well-known?a=../b"))
            .ends_with("fine"));
}

TEST_CASE("header names with underscores are dropped by default, or refused, or passed",
          "[edge][http][hostile]") {
  const std::string spoof = "X_Forwarded_For: 203.0.113.9";
  auto echo = [&](EdgeLab& lab) {
    const RunResult r = lab.Curl({"-H", spoof, "-H", "X-Custom_Field: 1", lab.Url("/echo")});
    INFO(r.out << r.err);
    const nlohmann::json echoed = nlohmann::json::parse(r.out);
    std::map<std::string, std::string> headers;
    for (const auto& h : echoed["headers"]) headers[h[0].get<std::string>()] = h[1];
    return headers;
  };
  SECTION("drop (the default)") {
    EdgeLab lab;
    const auto headers = echo(lab);
    CHECK(headers.count("X_Forwarded_For") == 0);
    CHECK(headers.count("X-Custom_Field") == 0);
    CHECK(headers.at("X-Forwarded-For") == "127.0.0.1");
  }
  SECTION("reject") {
    EdgeLab lab(
        "  - {name: http, port: {http}, protocol: http, headers_with_underscores: reject}\n"
        "  - {name: tcp, port: {tcp}, protocol: tcp, cluster: web}\n");
    CHECK(lab.Status("/echo", {"-H", spoof}) == 400);
    CHECK(lab.Status("/echo") == 200);
  }
  SECTION("allow") {
    EdgeLab lab(
        "  - {name: http, port: {http}, protocol: http, headers_with_underscores: allow}\n"
        "  - {name: tcp, port: {tcp}, protocol: tcp, cluster: web}\n");
    CHECK(echo(lab).at("X_Forwarded_For") == "203.0.113.9");
  }
}

}  // namespace
