#include "edge/health/monitor.h"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <string_view>
#include <utility>

#include "common/cat.h"
#include "common/log/log.h"
#include "common/net/await.h"
#include "common/net/spawn.h"
#include "edge/http/parser.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 4096;

Clock::duration ToChrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

// The Host field for an endpoint without a configured one: RFC 9110 section 7.2, an IPv6
// literal in brackets, with the port since it is rarely the default.
std::string HostFor(const tcp::endpoint& e) {
  const std::string address = e.address().to_string();
  if (e.address().is_v6()) return Cat("[", address, "]:", e.port());
  return Cat(address, ":", e.port());
}

struct CheckResult {
  bool passed = false;
  std::string error;  // why it failed
};

CheckResult Fail(std::string error) { return CheckResult{false, std::move(error)}; }

// Connects and, for HTTP, sends the request and reads the response head. Unbounded in time: the
// caller's deadline closes the socket.
asio::awaitable<CheckResult> Exchange(tcp::socket& s, const tcp::endpoint& to,
                                      const ActiveCheckParams& params, const std::string& request) {
  {
    auto [ec] = co_await s.async_connect(to, kAwait);
    if (ec) co_return Fail(Cat("connect: ", ec.message()));
  }
  if (params.protocol == CheckProtocol::kTcp) co_return CheckResult{true, {}};
  {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(request), kAwait);
    if (ec) co_return Fail(Cat("write: ", ec.message()));
  }
  std::string buf;
  http::ResponseParser parser;
  for (;;) {
    const size_t old = buf.size();
    buf.resize(old + kReadChunk);
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf.data() + old, kReadChunk), kAwait);
    buf.resize(old + n);
    if (ec == asio::error::eof) co_return Fail("read: connection closed before the response head");
    if (ec) co_return Fail(Cat("read: ", ec.message()));
    for (;;) {
      http::ResponseHead head;
      const http::ParseResult r = parser.Parse(buf, "GET", head);
      if (r.status == http::ParseStatus::kIncomplete) break;
      if (r.status == http::ParseStatus::kInvalid) {
        co_return Fail(Cat("invalid response: ", r.error));
      }
      // An interim response (100 Continue, 103 Early Hints) precedes the real one.
      if (head.status >= 100 && head.status < 200 && head.status != 101) {
        buf.erase(0, r.head_bytes);
        parser.Reset();
        continue;
      }
      if (StatusPasses(head.status, params.expected_statuses)) co_return CheckResult{true, {}};
      co_return Fail(Cat("status ", head.status));
    }
  }
}

absl::Status ValidateCluster(const MonitoredCluster& c) {
  auto bad = [&c](std::string_view what) {
    return absl::InvalidArgumentError(Cat("cluster ", c.name, ": ", what));
  };
  if (c.active_check) {
    const ActiveCheckParams& a = *c.active_check;
    if (a.interval <= absl::ZeroDuration()) return bad("health check interval must be above 0");
    if (a.timeout <= absl::ZeroDuration()) return bad("health check timeout must be above 0");
    if (a.rise == 0 || a.fall == 0) return bad("health check rise and fall must be at least 1");
  }
  if (c.outlier.max_ejection_percent > 100) return bad("max_ejection_percent above 100");
  if (c.outlier.consecutive_errors > 0 && c.outlier.base_ejection_time <= absl::ZeroDuration()) {
    return bad("base_ejection_time must be above 0");
  }
  return absl::OkStatus();
}

}  // namespace

class HealthMonitor::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, std::vector<MonitoredCluster> clusters, Snapshot<HealthTable>& out,
       HealthMonitorOptions options)
      : io_(io), options_(std::move(options)), out_(&out), return_timer_(io), refresh_timer_(io) {
    const std::shared_ptr<const HealthTable> previous = out.Current();
    generation_ = previous != nullptr ? previous->generation : 0;
    for (size_t ci = 0; ci < clusters.size(); ++ci) {
      const size_t n = clusters[ci].endpoints.size();
      OutlierDetector outlier(n, clusters[ci].outlier);
      ClusterRuntime c{std::move(clusters[ci]), std::vector<EndpointRuntime>(n),
                       std::move(outlier)};
      for (EndpointRuntime& e : c.endpoints) {
        e.check.state = c.spec.active_check ? HealthState::kUnchecked : HealthState::kHealthy;
      }
      reportable_endpoints_.push_back(c.outlier.enabled() ? n : 0);
      if (c.spec.active_check) {
        for (size_t ei = 0; ei < n; ++ei) probes_.push_back(std::make_unique<Probe>(io, ci, ei));
      }
      clusters_.push_back(std::move(c));
    }
    Publish(/*state_changed=*/true);
  }

  void Start() {
    asio::post(io_, [self = shared_from_this()] { self->DoStart(); });
  }

  void Stop() {
    {
      const std::lock_guard<std::mutex> lock(publish_mu_);
      out_ = nullptr;
    }
    if (stop_requested_.exchange(true)) return;
    asio::post(io_, [self = shared_from_this()] { self->DoStop(); });
  }

  void ReportOutcome(size_t cluster, size_t endpoint, RequestOutcome outcome) {
    // reportable_endpoints_ is fixed at construction: safe to read on any thread.
    if (cluster >= reportable_endpoints_.size() || endpoint >= reportable_endpoints_[cluster] ||
        stop_requested_.load(std::memory_order_relaxed)) {
      return;
    }
    asio::post(io_, [self = shared_from_this(), cluster, endpoint, outcome] {
      self->OnOutcome(cluster, endpoint, outcome);
    });
  }

 private:
  struct EndpointRuntime {
    CheckCounters check;
    std::string last_error;
    uint64_t check_failures = 0;
  };

  struct ClusterRuntime {
    MonitoredCluster spec;
    std::vector<EndpointRuntime> endpoints;
    OutlierDetector outlier;
    uint64_t checks = 0;
    uint64_t check_failures = 0;
    uint64_t ejections = 0;
    uint64_t ejections_capped = 0;
  };

  // One endpoint's active checker. `deadline` bounds each check by closing `socket`; `seq` tells
  // a deadline handler already queued that its check is over.
  struct Probe {
    Probe(asio::io_context& io, size_t c, size_t e)
        : cluster(c), endpoint(e), timer(io), deadline(io) {}
    size_t cluster;
    size_t endpoint;
    asio::steady_timer timer;
    asio::steady_timer deadline;
    std::optional<tcp::socket> socket;
    uint64_t seq = 0;
    bool timed_out = false;
  };

  void DoStart() {
    if (started_ || stopped_) return;
    started_ = true;
    for (const std::unique_ptr<Probe>& p : probes_) {
      asio::co_spawn(io_, CheckLoop(shared_from_this(), *p),
                     LogFailure("health.check_loop_failed", spdlog::level::critical));
    }
  }

  void DoStop() {
    stopped_ = true;
    for (const std::unique_ptr<Probe>& p : probes_) {
      p->timer.cancel();
      p->deadline.cancel();
      if (p->socket) {
        asio::error_code ignored;
        p->socket->close(ignored);
      }
    }
    return_timer_.cancel();
    refresh_timer_.cancel();
  }

  // `keep` holds the state alive for as long as the coroutine frame exists.
  asio::awaitable<void> CheckLoop(std::shared_ptr<Impl> keep, Probe& p) {
    const ClusterRuntime& c = clusters_[p.cluster];
    const ActiveCheckParams& params = *c.spec.active_check;
    const MonitoredEndpoint& endpoint = c.spec.endpoints[p.endpoint];
    const std::string request =
        params.protocol == CheckProtocol::kHttp
            ? HealthCheckRequest(params.path,
                                 params.host.empty() ? HostFor(endpoint.address) : params.host)
            : std::string();
    const Clock::duration interval = ToChrono(params.interval);
    Clock::time_point next =
        Clock::now() + ToChrono(CheckPhase(c.spec.name, endpoint.key, params.interval));
    while (!stopped_) {
      p.timer.expires_at(next);
      co_await p.timer.async_wait(kAwait);
      if (stopped_) break;
      CheckResult result = co_await RunCheck(p, endpoint.address, params, request);
      if (stopped_) break;
      OnCheckResult(p.cluster, p.endpoint, std::move(result));
      // Fixed rate keeps each endpoint's phase; after a stall, wait a whole interval rather than
      // firing the missed checks back to back.
      next += interval;
      if (const Clock::time_point now = Clock::now(); next <= now) next = now + interval;
    }
    keep.reset();
  }

  asio::awaitable<CheckResult> RunCheck(Probe& p, const tcp::endpoint& to,
                                        const ActiveCheckParams& params,
                                        const std::string& request) {
    p.socket.emplace(io_);
    p.timed_out = false;
    const uint64_t seq = ++p.seq;
    p.deadline.expires_after(ToChrono(params.timeout));
    p.deadline.async_wait([self = shared_from_this(), &p, seq](const asio::error_code& ec) {
      if (ec || p.seq != seq || !p.socket) return;
      p.timed_out = true;
      asio::error_code ignored;
      p.socket->close(ignored);
    });
    CheckResult result = co_await Exchange(*p.socket, to, params, request);
    ++p.seq;
    p.deadline.cancel();
    p.socket.reset();
    if (p.timed_out) {
      result = Fail(Cat("timed out after ", absl::FormatDuration(params.timeout)));
    }
    co_return result;
  }

  void OnCheckResult(size_t ci, size_t ei, CheckResult result) {
    ClusterRuntime& c = clusters_[ci];
    EndpointRuntime& e = c.endpoints[ei];
    const ActiveCheckParams& params = *c.spec.active_check;
    ++c.checks;
    if (result.passed) {
      e.last_error.clear();
    } else {
      ++c.check_failures;
      ++e.check_failures;
      e.last_error = std::move(result.error);
    }
    if (!RecordCheckResult(e.check, result.passed, params.rise, params.fall)) {
      MarkDirty();
      return;
    }
    const std::string& key = c.spec.endpoints[ei].key;
    if (e.check.state == HealthState::kHealthy) {
      spdlog::info("event=health.endpoint_up cluster={} endpoint={} successes={}", c.spec.name, key,
                   e.check.consecutive_successes);
    } else {
      spdlog::warn("event=health.endpoint_down cluster={} endpoint={} reason={} failures={}",
                   c.spec.name, key, QuoteLogValue(e.last_error), e.check.consecutive_failures);
    }
    Publish(/*state_changed=*/true);
  }

  void OnOutcome(size_t ci, size_t ei, RequestOutcome outcome) {
    if (stopped_) return;
    const Clock::time_point now = Clock::now();
    // A late timer must not keep an expired ejection counting against the cap.
    if (next_return_ && *next_return_ <= now) ReturnDue(now);
    ClusterRuntime& c = clusters_[ci];
    const uint32_t errors_before = c.outlier.state(ei).consecutive_errors;
    const std::string& key = c.spec.endpoints[ei].key;
    switch (c.outlier.Record(ei, outcome, now)) {
      case OutlierDetector::Result::kEjected: {
        const OutlierDetector::EndpointState& s = c.outlier.state(ei);
        ++c.ejections;
        spdlog::warn(
            "event=health.endpoint_ejected cluster={} endpoint={} consecutive_errors={} "
            "ejections={} duration={}",
            c.spec.name, key, s.consecutive_errors, s.ejections,
            absl::FormatDuration(
                EjectionDuration(c.outlier.params().base_ejection_time, s.ejections)));
        Publish(/*state_changed=*/true);
        ArmReturnTimer();
        return;
      }
      case OutlierDetector::Result::kCapped:
        ++c.ejections_capped;
        spdlog::warn(
            "event=health.ejection_capped cluster={} endpoint={} consecutive_errors={} "
            "ejected={} max_ejected={}",
            c.spec.name, key, c.outlier.state(ei).consecutive_errors, c.outlier.ejected(),
            c.outlier.max_ejected());
        MarkDirty();
        return;
      case OutlierDetector::Result::kNone:
        if (c.outlier.state(ei).consecutive_errors != errors_before) MarkDirty();
        return;
    }
  }

  // Brings back the endpoints whose ejection is over, publishes when there were any, and arms
  // the timer for the next.
  void ReturnDue(Clock::time_point now) {
    bool any = false;
    for (ClusterRuntime& c : clusters_) {
      for (const size_t ei : c.outlier.Return(now)) {
        any = true;
        spdlog::info("event=health.endpoint_returned cluster={} endpoint={} ejections={}",
                     c.spec.name, c.spec.endpoints[ei].key, c.outlier.state(ei).ejections);
      }
    }
    if (any) Publish(/*state_changed=*/true);
    ArmReturnTimer();
  }

  void ArmReturnTimer() {
    std::optional<Clock::time_point> next;
    for (const ClusterRuntime& c : clusters_) {
      const auto t = c.outlier.NextReturn();
      if (t && (!next || *t < *next)) next = t;
    }
    next_return_ = next;
    if (!next) {
      return_timer_.cancel();
      return;
    }
    // Re-arming cancels the wait in progress; its handler sees operation_aborted.
    return_timer_.expires_at(*next);
    return_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec || self->stopped_) return;
      self->ReturnDue(Clock::now());
    });
  }

  void MarkDirty() {
    if (dirty_ || stopped_ || options_.report_refresh <= absl::ZeroDuration()) return;
    dirty_ = true;
    refresh_timer_.expires_after(ToChrono(options_.report_refresh));
    refresh_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec || self->stopped_ || !self->dirty_) return;
      self->Publish(/*state_changed=*/false);
    });
  }

  void Publish(bool state_changed) {
    if (state_changed) ++generation_;
    dirty_ = false;
    auto table = std::make_shared<HealthTable>();
    table->generation = generation_;
    table->config_version = options_.config_version;
    table->clusters.reserve(clusters_.size());
    for (const ClusterRuntime& c : clusters_) {
      ClusterHealth& h = table->clusters.emplace_back();
      h.name = c.spec.name;
      h.active_checks = c.spec.active_check.has_value();
      h.outlier_detection = c.outlier.enabled();
      h.checks = c.checks;
      h.check_failures = c.check_failures;
      h.ejections = c.ejections;
      h.ejections_capped = c.ejections_capped;
      h.endpoints.reserve(c.endpoints.size());
      h.reports.reserve(c.endpoints.size());
      for (size_t ei = 0; ei < c.endpoints.size(); ++ei) {
        const EndpointRuntime& e = c.endpoints[ei];
        const OutlierDetector::EndpointState& o = c.outlier.state(ei);
        h.endpoints.push_back(EndpointHealth{e.check.state, o.ejected});
        EndpointHealthReport& r = h.reports.emplace_back();
        r.key = c.spec.endpoints[ei].key;
        r.consecutive_successes = e.check.consecutive_successes;
        r.consecutive_failures = e.check.consecutive_failures;
        r.last_check_error = e.last_error;
        r.check_failures = e.check_failures;
        r.consecutive_errors = o.consecutive_errors;
        r.ejections = o.ejections;
        r.ejected_until = o.ejected_until;
      }
    }
    const std::lock_guard<std::mutex> lock(publish_mu_);
    if (out_ != nullptr) out_->Set(std::move(table));
  }

  asio::io_context& io_;
  const HealthMonitorOptions options_;
  // Fixed at construction, read by ReportOutcome() on the workers' threads: by cluster, its
  // endpoint count when outlier detection is on, else 0.
  std::vector<size_t> reportable_endpoints_;
  std::atomic<bool> stop_requested_{false};

  // Guards `out_` only: Stop() clears it, so nothing is published after Stop() returns.
  std::mutex publish_mu_;
  Snapshot<HealthTable>* out_;

  // The rest belongs to the io_context's thread.
  std::vector<ClusterRuntime> clusters_;
  std::vector<std::unique_ptr<Probe>> probes_;
  asio::steady_timer return_timer_;
  // The earliest ejection end over every cluster, so an outcome checks for returns in O(1).
  std::optional<Clock::time_point> next_return_;
  asio::steady_timer refresh_timer_;
  uint64_t generation_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  bool dirty_ = false;
};

absl::StatusOr<std::unique_ptr<HealthMonitor>> HealthMonitor::Create(
    asio::io_context& io, std::vector<MonitoredCluster> clusters, Snapshot<HealthTable>& out,
    HealthMonitorOptions options) {
  for (const MonitoredCluster& c : clusters) {
    if (absl::Status s = ValidateCluster(c); !s.ok()) return s;
  }
  auto impl = std::make_shared<Impl>(io, std::move(clusters), out, std::move(options));
  return std::unique_ptr<HealthMonitor>(new HealthMonitor(std::move(impl)));
}

HealthMonitor::HealthMonitor(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HealthMonitor::~HealthMonitor() { impl_->Stop(); }

void HealthMonitor::Start() { impl_->Start(); }

void HealthMonitor::Stop() { impl_->Stop(); }

void HealthMonitor::ReportOutcome(size_t cluster, size_t endpoint, RequestOutcome outcome) {
  impl_->ReportOutcome(cluster, endpoint, outcome);
}

}  // namespace holdfast::edge
