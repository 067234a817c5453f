// Overload against a backend of known capacity (backend.py's /capacity: N workers, S ms each,
// the rest wait their turn): with adaptive concurrency the edge lets through about what the
// backend takes at once and answers the rest 503 at once with a Retry-After; without it, the
// flood reaches the backend and queues there.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/edge_lab.h"

namespace {

using holdfast::testing::EdgeLab;
using holdfast::testing::RunResult;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

constexpr const char* kListener = "  - {name: http, port: {http}, protocol: http}\n";
constexpr const char* kRoute = "  - {name: web, match: {path_prefix: /}, cluster: web}\n";

// Cluster web: backend web1 alone, with `extra` settings.
std::string Cluster(const std::string& extra) {
  return "  - name: web\n"
         "    endpoints: [{address: 127.0.0.1, port: {web1}}]\n" +
         extra;
}

struct FloodResult {
  long requests = 0;      // what wrk sent
  long non_2xx = 0;       // of them, refused
  long backend_peak = 0;  // the most requests in the backend (in service or waiting) at once
  // What a probe saw meanwhile: the status and Retry-After of each of its requests.
  std::vector<std::pair<int, std::string>> probes;
  std::string wrk;
};

// 100 connections of wrk for 5 s against backend web1 set to 4 workers of 10 ms (400 requests a
// second, 4 at once: ten times its capacity and more), and a probe of one request every 100 ms.
FloodResult Flood(EdgeLab& lab) {
  REQUIRE(lab.BackendGet("web1", "/capacity?workers=4&ms=10") == "capacity 4 x 10 ms\n");
  FloodResult out;
  std::atomic<bool> done{false};
  std::thread probe([&] {
    while (!done.load()) {
      const RunResult r = lab.Curl({"-s", "-o", "/dev/null", "-D", "-", lab.Url("/probe")});
      std::smatch m;
      const int status =
          std::regex_search(r.out, m, std::regex("^HTTP/1.1 ([0-9]{3})")) ? std::stoi(m[1]) : 0;
      const std::string retry_after =
          std::regex_search(r.out, m, std::regex("\r\nRetry-After: ([^\r]*)\r\n")) ? m[1].str()
                                                                                   : "";
      out.probes.emplace_back(status, retry_after);
      std::this_thread::sleep_for(100ms);
    }
  });
  const RunResult r = holdfast::testing::Run(
      {"/usr/bin/wrk", "-t2", "-c100", "-d5s", "--latency", "--timeout", "10s", lab.Url("/work")},
      lab.dir(), 60s);
  done = true;
  probe.join();
  out.wrk = r.out + r.err;
  std::smatch m;
  if (std::regex_search(r.out, m, std::regex("([0-9]+) requests in"))) {
    out.requests = std::stol(m[1]);
  }
  if (std::regex_search(r.out, m, std::regex("Non-2xx or 3xx responses: ([0-9]+)"))) {
    out.non_2xx = std::stol(m[1]);
  }
  out.backend_peak = std::stol(lab.BackendGet("web1", "/peak"));
  return out;
}

TEST_CASE(
    "with adaptive concurrency a flood is refused at the edge with Retry-After instead of "
    "queueing at the backend",
    "[edge][overload]") {
  long plain_peak = 0;
  {
    EdgeLab lab(kListener, kRoute, Cluster(""));
    const FloodResult plain = Flood(lab);
    INFO(plain.wrk);
    CHECK(plain.non_2xx == 0);  // everything queued, nothing refused
    plain_peak = plain.backend_peak;
  }

  EdgeLab lab(kListener, kRoute, Cluster("    adaptive_concurrency: {enabled: true}\n"));
  const FloodResult flood = Flood(lab);
  INFO(flood.wrk);
  INFO("backend peak: " << flood.backend_peak << " with adaptive concurrency, " << plain_peak
                        << " without");
  // The flood stayed at the edge: the backend held a few times its 4 workers at most, where
  // without the limit it held a queue many times longer.
  CHECK(flood.backend_peak * 3 < plain_peak);
  CHECK(flood.backend_peak <= 24);
  // Most of the flood was refused, and what was admitted was served.
  CHECK(flood.non_2xx > flood.requests / 2);
  CHECK(flood.requests - flood.non_2xx > 0);
  CHECK(lab.Metric("holdfast_shed_total{cluster=\"web\",reason=\"concurrency_limit\"}") > 0);
  CHECK(lab.Metric("holdfast_shed_total{cluster=\"web\",reason=\"max_requests\"}") == 0);
  // The gate's view: min RTT about the backend's 10 ms, a limit about its 4 workers.
  const double min_rtt = lab.Metric("holdfast_concurrency_min_rtt_seconds{cluster=\"web\"}");
  CHECK(min_rtt >= 0.009);
  CHECK(min_rtt < 0.1);
  const double limit = lab.Metric("holdfast_concurrency_limit{cluster=\"web\"}");
  CHECK(limit >= 3);
  CHECK(limit <= 24);
  // Every refusal the probe met said when to come back: whole seconds, 1..60.
  int refused = 0;
  for (const auto& [status, retry_after] : flood.probes) {
    INFO(status << " Retry-After: " << retry_after);
    CHECK((status == 200 || status == 503));
    if (status != 503) continue;
    ++refused;
    REQUIRE(std::regex_match(retry_after, std::regex("[0-9]+")));
    CHECK(std::stoi(retry_after) >= 1);
    CHECK(std::stoi(retry_after) <= 60);
  }
  CHECK(refused > 0);
  // The flood over, the edge admits again at once.
  for (int i = 0; i < 10; ++i) CHECK(lab.Status("/after") == 200);
}

// Routes: /critical/ is critical, the rest normal; both to web1, which takes 1 request at once
// and lets 2 more wait for up to `pending_timeout`.
EdgeLab QueueingLab(const std::string& pending_timeout) {
  return EdgeLab(
      kListener,
      "  - {name: critical, match: {path_prefix: /critical/}, cluster: web,"
      " priority: critical}\n"
      "  - {name: web, match: {path_prefix: /}, cluster: web}\n",
      Cluster("    circuit_breakers: {max_requests: 1, max_pending: 2, pending_timeout: " +
              pending_timeout + "}\n"));
}

TEST_CASE(
    "over its limit a request waits up to pending_timeout, critical ones first, and the "
    "queue is bounded",
    "[edge][overload]") {
  EdgeLab lab = QueueingLab("5s");
  std::thread holder([&] { CHECK(lab.Status("/slow?ms=1000") == 200); });
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_concurrency_in_flight{cluster=\"web\"}") == 1; }, 5s));
  // A normal request, then a critical one, wait; each takes 300 ms once in.
  std::vector<std::string> finished;
  std::mutex mu;
  auto request = [&](const std::string& path) {
    const int status = lab.Status(path);
    std::lock_guard lock(mu);
    finished.push_back(path + " " + std::to_string(status));
  };
  std::thread normal(request, "/slow?ms=300");
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_concurrency_pending{cluster=\"web\"}") == 1; }, 5s));
  std::thread critical(request, "/critical/slow?ms=300");
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_concurrency_pending{cluster=\"web\"}") == 2; }, 5s));
  // The queue is full: the next one is refused at once.
  const RunResult full = lab.Curl({"-s", "-i", lab.Url("/x")});
  INFO(full.out);
  CHECK(full.out.rfind("HTTP/1.1 503", 0) == 0);
  CHECK_THAT(full.out, Catch::Contains("over the cluster's limit with max_pending waiting"));
  CHECK(lab.Metric("holdfast_shed_total{cluster=\"web\",reason=\"max_pending\"}") == 1);
  holder.join();
  normal.join();
  critical.join();
  // The critical request, though it came second, was served first; nobody was refused.
  REQUIRE(finished.size() == 2);
  CHECK(finished[0] == "/critical/slow?ms=300 200");
  CHECK(finished[1] == "/slow?ms=300 200");
}

TEST_CASE("an edge stopped while requests wait at a gate exits cleanly", "[edge][overload]") {
  EdgeLab lab = QueueingLab("10s");
  std::thread holder([&lab] { lab.Status("/slow?ms=3000"); });
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_concurrency_in_flight{cluster=\"web\"}") == 1; }, 5s));
  std::thread waiter([&lab] { lab.Status("/waits"); });
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_concurrency_pending{cluster=\"web\"}") == 1; }, 5s));
  // SIGTERM: the edge drains and exits 0, with no sanitizer report, a request still queued.
  lab.edge().Signal(SIGTERM);
  const std::optional<int> code = lab.edge().Wait(15s);
  INFO(lab.edge().Output());
  CHECK(code == std::optional<int>(0));
  CHECK_THAT(lab.edge().Output(), !Catch::Contains("Sanitizer"));
  holder.join();
  waiter.join();
  lab.StartEdge();  // the lab stops it again as it goes
}

TEST_CASE(
    "a request that waited pending_timeout for a place is refused, and so is one that "
    "would",
    "[edge][overload]") {
  EdgeLab lab = QueueingLab("300ms");
  std::thread holder([&] { CHECK(lab.Status("/slow?ms=2000") == 200); });
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_concurrency_in_flight{cluster=\"web\"}") == 1; }, 5s));
  const auto start = std::chrono::steady_clock::now();
  const RunResult waited = lab.Curl({"-s", "-i", lab.Url("/x")});
  const auto took = std::chrono::steady_clock::now() - start;
  INFO(waited.out);
  CHECK(waited.out.rfind("HTTP/1.1 503", 0) == 0);
  CHECK_THAT(waited.out,
             Catch::Contains("over the cluster's limit for longer than pending_timeout"));
  CHECK(took >= 250ms);  // it did wait (nothing had drained yet to judge by)
  CHECK(lab.Metric("holdfast_shed_total{cluster=\"web\",reason=\"pending_timeout\"}") == 1);
  holder.join();
  CHECK(lab.Status("/after") == 200);
}

}  // namespace

namespace {

TEST_CASE(
    "a client over its listener's rate limit is answered 429 with Retry-After; other "
    "clients are not",
    "[edge][overload]") {
  EdgeLab lab(
      "  - {name: http, port: {http}, protocol: http, client_rate_limit: {requests_per_second: 0.5,"
      " burst: 3, key_header: X-Api-Key}}\n",
      kRoute, Cluster(""));
  for (int i = 0; i < 3; ++i) CHECK(lab.Status("/x", {"-H", "X-Api-Key: alice"}) == 200);
  const RunResult over = lab.Curl({"-s", "-i", "-H", "X-Api-Key: alice", lab.Url("/x")});
  INFO(over.out);
  CHECK(over.out.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0) == 0);
  CHECK_THAT(over.out, Catch::Contains("\r\nRetry-After: 2\r\n"));  // a token every 2 s
  CHECK_THAT(over.out, Catch::Contains("429 Too Many Requests: client over its rate limit"));
  // Another key, and a request without one (counted by its address), have buckets of their own.
  CHECK(lab.Status("/x", {"-H", "X-Api-Key: bob"}) == 200);
  CHECK(lab.Status("/x") == 200);
  CHECK(lab.Metric("holdfast_http_rate_limited_total{listener=\"http\"}") == 1);
}

}  // namespace
