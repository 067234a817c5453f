// HealthMonitor against real TCP peers: tiny Asio servers in this process on 127.0.0.1, port 0.
// Everything runs on the test's thread, which drives the io_context until a condition holds or
// a deadline passes.
#include "edge/health/monitor.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/net/await.h"

namespace holdfast::edge {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Runs `io` until `done()` holds; false when `limit` passes first.
bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              Clock::duration limit = std::chrono::seconds(2)) {
  const Clock::time_point deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    io.run_one_for(milliseconds(5));
    if (io.stopped()) io.restart();
  }
  return true;
}

// An HTTP backend answering request n (from 1) with status(n), or holding the connection
// without an answer when status(n) is 0.
class TestBackend {
 public:
  TestBackend(asio::io_context& io, std::function<int(int)> status)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        status_(std::move(status)) {
    asio::co_spawn(io, Serve(), asio::detached);
  }

  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
  int requests() const { return requests_; }
  const std::string& first_request() const { return first_request_; }
  void Close() {
    asio::error_code ignored;
    acceptor_.close(ignored);
    held_.clear();
  }

 private:
  asio::awaitable<void> Serve() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(kAwait);
      if (ec) co_return;
      std::string buf;
      while (buf.find("\r\n\r\n") == std::string::npos) {
        char chunk[512];
        auto [rec, n] = co_await s.async_read_some(asio::buffer(chunk), kAwait);
        if (rec) break;
        buf.append(chunk, n);
      }
      if (++requests_ == 1) first_request_ = buf;
      const int status = status_(requests_);
      if (status == 0) {
        held_.push_back(std::move(s));
        continue;
      }
      const std::string answer = "HTTP/1.1 " + std::to_string(status) +
                                 " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      co_await asio::async_write(s, asio::buffer(answer), kAwait);
    }
  }

  tcp::acceptor acceptor_;
  std::function<int(int)> status_;
  std::vector<tcp::socket> held_;
  int requests_ = 0;
  std::string first_request_;
};

MonitoredCluster Checked(const std::string& name, const tcp::endpoint& e, CheckProtocol protocol,
                         uint32_t fall) {
  ActiveCheckParams check;
  check.protocol = protocol;
  check.path = "/healthz";
  check.interval = absl::Milliseconds(50);
  check.timeout = absl::Milliseconds(150);
  check.rise = 1;
  check.fall = fall;
  const std::string key = e.address().to_string() + ":" + std::to_string(e.port());
  return MonitoredCluster{name, {{key, e}}, check, OutlierParams{0, absl::Seconds(1), 50}};
}

TEST_CASE("an HTTP check marks the endpoint healthy, then down when it answers 500",
          "[edge][health]") {
  asio::io_context io;
  TestBackend backend(io, [](int n) { return n == 1 ? 200 : 500; });
  Snapshot<HealthTable> table;
  std::vector<MonitoredCluster> clusters;
  clusters.push_back(Checked("web", backend.endpoint(), CheckProtocol::kHttp, 3));
  auto monitor =
      HealthMonitor::Create(io, std::move(clusters), table,
                            {.config_version = "v1", .report_refresh = absl::Milliseconds(10)});
  REQUIRE(monitor.ok());
  const auto initial = table.Current();
  REQUIRE(initial != nullptr);
  CHECK(initial->config_version == "v1");
  REQUIRE(initial->clusters.size() == 1);
  CHECK(initial->clusters[0].active_checks);
  CHECK(initial->clusters[0].endpoints[0].state == HealthState::kUnchecked);
  (*monitor)->Start();

  auto state = [&] { return table.Current()->clusters[0].endpoints[0].state; };
  REQUIRE(RunUntil(io, [&] { return state() == HealthState::kHealthy; }));
  const uint64_t healthy_generation = table.Current()->generation;
  CHECK(healthy_generation > initial->generation);
  const std::string port = std::to_string(backend.endpoint().port());
  CHECK(backend.first_request() == "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:" + port +
                                       "\r\nUser-Agent: holdfast-health\r\n"
                                       "Connection: close\r\n\r\n");

  // Failures below `fall` reach the reports (same generation) before the state changes.
  REQUIRE(RunUntil(io, [&] {
    const auto t = table.Current();
    return t->clusters[0].reports[0].consecutive_failures >= 1 ||
           t->clusters[0].endpoints[0].state != HealthState::kHealthy;
  }));
  {
    const auto t = table.Current();
    CHECK(t->clusters[0].endpoints[0].state == HealthState::kHealthy);
    CHECK(t->generation == healthy_generation);
    CHECK(t->clusters[0].reports[0].last_check_error == "status 500");
  }

  REQUIRE(RunUntil(io, [&] { return state() == HealthState::kUnhealthy; }));
  const auto down = table.Current();
  CHECK(down->generation > healthy_generation);
  const EndpointHealthReport& report = down->clusters[0].reports[0];
  CHECK(report.consecutive_failures == 3);
  CHECK(report.last_check_error == "status 500");
  CHECK(report.check_failures == 3);
  CHECK(down->clusters[0].check_failures == 3);
  CHECK(down->clusters[0].checks == 4);

  // Stop ends every check at once: the io_context runs out of work.
  (*monitor)->Stop();
  backend.Close();
  const Clock::time_point before = Clock::now();
  io.run_for(std::chrono::seconds(2));
  CHECK(Clock::now() - before < milliseconds(500));
  CHECK(table.Current() == down);  // nothing published after Stop()
}

TEST_CASE("a TCP check of a closed port marks the endpoint down with the connect error",
          "[edge][health]") {
  asio::io_context io;
  tcp::endpoint closed;
  {
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed = a.local_endpoint();
  }
  Snapshot<HealthTable> table;
  std::vector<MonitoredCluster> clusters;
  clusters.push_back(Checked("db", closed, CheckProtocol::kTcp, 3));
  auto monitor = HealthMonitor::Create(io, std::move(clusters), table);
  REQUIRE(monitor.ok());
  (*monitor)->Start();
  REQUIRE(RunUntil(io, [&] {
    return table.Current()->clusters[0].endpoints[0].state == HealthState::kUnhealthy;
  }));
  // The first failure decides an unchecked endpoint, whatever `fall` is.
  const EndpointHealthReport& report = table.Current()->clusters[0].reports[0];
  CHECK(report.consecutive_failures == 1);
  CHECK(report.last_check_error.starts_with("connect: "));
  (*monitor)->Stop();
  io.run_for(std::chrono::seconds(1));
}

TEST_CASE("an HTTP check that gets no answer fails after its timeout", "[edge][health]") {
  asio::io_context io;
  TestBackend backend(io, [](int) { return 0; });
  Snapshot<HealthTable> table;
  std::vector<MonitoredCluster> clusters;
  clusters.push_back(Checked("slow", backend.endpoint(), CheckProtocol::kHttp, 1));
  auto monitor = HealthMonitor::Create(io, std::move(clusters), table);
  REQUIRE(monitor.ok());
  (*monitor)->Start();
  REQUIRE(RunUntil(io, [&] {
    return table.Current()->clusters[0].endpoints[0].state == HealthState::kUnhealthy;
  }));
  CHECK(table.Current()->clusters[0].reports[0].last_check_error == "timed out after 150ms");
  (*monitor)->Stop();
  backend.Close();
  io.run_for(std::chrono::seconds(1));
}

TEST_CASE("outcomes reported from another thread eject and return an endpoint", "[edge][health]") {
  asio::io_context io;
  Snapshot<HealthTable> table;
  const tcp::endpoint unused(asio::ip::make_address("127.0.0.1"), 9);
  std::vector<MonitoredCluster> clusters;
  clusters.push_back(MonitoredCluster{"api",
                                      {{"127.0.0.1:9", unused}, {"127.0.0.2:9", unused}},
                                      std::nullopt,
                                      OutlierParams{2, absl::Milliseconds(100), 50}});
  auto monitor = HealthMonitor::Create(io, std::move(clusters), table);
  REQUIRE(monitor.ok());
  const auto initial = table.Current();
  CHECK_FALSE(initial->clusters[0].active_checks);
  CHECK(initial->clusters[0].outlier_detection);
  CHECK(initial->clusters[0].endpoints[0].state == HealthState::kHealthy);
  CHECK(initial->clusters[0].endpoints[1].state == HealthState::kHealthy);
  (*monitor)->Start();

  std::thread worker([&] {
    (*monitor)->ReportOutcome(0, 1, RequestOutcome::k5xx);
    (*monitor)->ReportOutcome(0, 1, RequestOutcome::kConnectFailure);
    (*monitor)->ReportOutcome(0, 7, RequestOutcome::k5xx);  // out of range: ignored
    (*monitor)->ReportOutcome(3, 0, RequestOutcome::k5xx);
  });
  worker.join();
  const Clock::time_point reported = Clock::now();
  REQUIRE(RunUntil(io, [&] { return table.Current()->clusters[0].endpoints[1].ejected; }));
  CHECK_FALSE(table.Current()->clusters[0].endpoints[0].ejected);
  CHECK(table.Current()->clusters[0].ejections == 1);
  CHECK(table.Current()->clusters[0].reports[1].ejections == 1);

  REQUIRE(RunUntil(io, [&] { return !table.Current()->clusters[0].endpoints[1].ejected; }));
  CHECK(Clock::now() - reported >= milliseconds(100));
  CHECK(table.Current()->clusters[0].reports[1].consecutive_errors == 0);
  (*monitor)->Stop();
  io.run_for(std::chrono::seconds(1));
}

TEST_CASE("a new monitor publishing into the same snapshot continues the generation",
          "[edge][health]") {
  asio::io_context io;
  Snapshot<HealthTable> table;
  auto first = HealthMonitor::Create(io, {}, table);
  REQUIRE(first.ok());
  const uint64_t generation = table.Current()->generation;
  first->reset();
  auto second = HealthMonitor::Create(io, {}, table);
  REQUIRE(second.ok());
  CHECK(table.Current()->generation > generation);
}

TEST_CASE("monitor refuses checks that could never run", "[edge][health]") {
  asio::io_context io;
  Snapshot<HealthTable> table;
  const tcp::endpoint e(asio::ip::make_address("127.0.0.1"), 80);
  MonitoredCluster c = Checked("web", e, CheckProtocol::kTcp, 3);
  c.active_check->rise = 0;
  auto monitor = HealthMonitor::Create(io, {c}, table);
  CHECK(monitor.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(table.Current() == nullptr);
}

}  // namespace
}  // namespace holdfast::edge
