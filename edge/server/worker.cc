#include "edge/server/worker.h"

#include <sys/socket.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>
#include <cerrno>
#include <exception>
#include <utility>

#include "common/cat.h"
#include "common/net/await.h"
#include "common/net/spawn.h"
#include "edge/server/http_connection.h"
#include "edge/server/tcp_proxy.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {

struct Runtime::ClusterState {
  ClusterMetrics* metrics = nullptr;
  std::unique_ptr<Balancer> balancer;
  std::vector<EndpointHealth> health;
  Eligibility eligibility;
  // Idle keep-alive connections by endpoint index.
  std::vector<std::vector<asio::ip::tcp::socket>> idle;
  std::vector<uint32_t> active_requests;
  // By endpoint: the last outcome sent to the monitor was a failure.
  std::vector<uint8_t> last_failed;

  ~ClusterState() {
    // Idle connections still pooled close with the state; they leave the gauge with it.
    for (auto& sockets : idle) {
      for (size_t i = 0; i < sockets.size(); ++i) Dec(metrics->active_connections);
    }
  }
};

namespace {

// SO_REUSEPORT lets every worker bind the same address; the kernel spreads new connections.
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Idle connections kept per endpoint and worker; more are closed when released.
constexpr size_t kMaxIdlePerEndpoint = 64;

enum class IdleState { kReady, kClosed, kStrayBytes };

// What an idle pooled connection holds, without waiting: nothing (ready for a request), its end
// or an error (closed), or bytes no request asked for. One non-blocking MSG_PEEK per reuse: the
// price of never answering a request with bytes that were on the wire before it was sent.
IdleState PeekIdle(asio::ip::tcp::socket& s) {
  char byte;
  for (;;) {
    const ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return IdleState::kStrayBytes;
    if (n == 0) return IdleState::kClosed;
    if (errno == EINTR) continue;
    return errno == EAGAIN ? IdleState::kReady : IdleState::kClosed;
  }
}

}  // namespace

Runtime::Runtime(std::shared_ptr<const Serving> serving, SharedState& shared,
                 std::mt19937_64& random, bool log_panic)
    : serving_(std::move(serving)), shared_(shared), log_panic_(log_panic) {
  const EdgeConfig& config = *serving_->config;
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    const ClusterConfig& c = config.clusters[i];
    auto state = std::make_unique<ClusterState>();
    state->metrics = serving_->cluster_metrics[i];
    state->balancer = c.lb->NewBalancer([&random] { return random(); });
    // Until the monitor's first table: unchecked where checks are configured (which fails
    // open), healthy elsewhere.
    state->health.assign(
        c.endpoints.size(),
        EndpointHealth{c.health_check.has_value() ? HealthState::kUnchecked : HealthState::kHealthy,
                       false});
    state->eligibility = EligibilityOf(c, state->health);
    state->idle.resize(c.endpoints.size());
    state->active_requests.assign(c.endpoints.size(), 0);
    state->last_failed.assign(c.endpoints.size(), 0);
    clusters_.push_back(std::move(state));
  }
}

Runtime::~Runtime() = default;

namespace {}  // namespace

Worker::Worker(int id, SharedState& shared)
    : id_(id),
      shared_(shared),
      parking_(io_, *shared.metrics,
               [this](size_t listener, asio::ip::tcp::socket socket, Admission admission) {
                 asio::co_spawn(
                     io_, HttpSession(*this, listener, std::move(socket), std::move(admission)),
                     LogFailure("edge.session_failed"));
               }),
      random_(static_cast<uint64_t>(id) * 0x9e3779b97f4a7c15ULL + 1) {}

std::shared_ptr<Runtime> Worker::Current() {
  const uint64_t sequence = shared_.serving.sequence();
  if (sequence != serving_sequence_ || runtime_ == nullptr) {
    serving_sequence_ = sequence;
    runtime_ = std::make_shared<Runtime>(shared_.serving.Current(), shared_, random_, id_ == 0);
  }
  return runtime_;
}

Worker::~Worker() { Stop(); }

absl::Status Worker::Listen() {
  const std::shared_ptr<const EdgeConfig> config = shared_.serving.Current()->config;
  for (size_t li = 0; li < config->listeners.size(); ++li) {
    const ListenerConfig& l = config->listeners[li];
    for (const asio::ip::tcp::endpoint& bind : l.binds) {
      if (l.protocol == v1::Listener::PROTOCOL_DNS) {
        dns::ServerOptions options;
        options.address = bind.address();
        options.port = bind.port();
        options.random_seed = static_cast<uint64_t>(id_) * 0x9e3779b97f4a7c15ULL + li + 1;
        auto server =
            dns::Server::Create(io_, options, shared_.dns, shared_.metrics->listener[li].dns);
        if (!server.ok()) {
          return absl::UnavailableError(
              Cat("listener ", l.name, ": ", std::string(server.status().message())));
        }
        dns_servers_.push_back(*std::move(server));
        continue;
      }
      auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io_);
      asio::error_code ec;
      acceptor->open(bind.protocol(), ec);
      if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor->set_option(ReusePort(true), ec);
      if (!ec) acceptor->bind(bind, ec);
      if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        return absl::UnavailableError(Cat("listener ", l.name, ": cannot listen on ",
                                          bind.address().to_string(), ":", bind.port(), ": ",
                                          ec.message()));
      }
      acceptors_.emplace_back(li, std::move(acceptor));
    }
  }
  return absl::OkStatus();
}

void Worker::Start() {
  for (auto& [li, acceptor] : acceptors_) {
    asio::co_spawn(io_, AcceptLoop(li, *acceptor),
                   LogFailure("edge.accept_loop_failed", spdlog::level::critical));
  }
  for (auto& server : dns_servers_) server->Start();
  if (shared_.watchdog != nullptr) {
    shared_.watchdog->Beat(static_cast<size_t>(id_), Watchdog::Clock::now());
    asio::co_spawn(io_, Heartbeat(), LogFailure("edge.heartbeat_failed"));
  }
  thread_ = std::thread([this] { io_.run(); });
}

void Worker::StopAccepting() {
  asio::post(io_, [this] {
    for (auto& [li, acceptor] : acceptors_) {
      asio::error_code ignored;
      acceptor->close(ignored);
    }
    // Idle pooled backend connections are not needed any more, nor idle client ones.
    if (runtime_ != nullptr) runtime_->DropIdle();
    parking_.CloseAll();
  });
}

void Worker::Stop() {
  for (auto& server : dns_servers_) server->Stop();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

asio::awaitable<void> Worker::Heartbeat() {
  asio::steady_timer timer(io_);
  for (;;) {
    timer.expires_after(Watchdog::kBeat);
    auto [ec] = co_await timer.async_wait(kAwait);
    if (ec) co_return;
    shared_.watchdog->Beat(static_cast<size_t>(id_), Watchdog::Clock::now());
  }
}

asio::awaitable<void> Worker::AcceptLoop(size_t listener, asio::ip::tcp::acceptor& acceptor) {
  ListenerMetrics& m = shared_.metrics->listener[listener];
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kAwait);
    // The listener as the newest config has it (max_connections may have been reloaded).
    const std::shared_ptr<Runtime> runtime = Current();
    const ListenerConfig& l = runtime->config().listeners[listener];
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: wait a moment instead of spinning, keep what is admitted.
      spdlog::warn("event=edge.accept_failed listener={} error=\"{}\"", l.name, ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(kAwait);
      continue;
    }
    if (Read(m.active) >= l.max_connections || shared_.draining.load()) {
      // Over the limit: close at once (RST-free close), never queue.
      Inc(m.refused);
      asio::error_code ignored;
      socket.close(ignored);
      continue;
    }
    Inc(m.accepted);
    Admission admission(m, shared_.open_connections);
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    if (l.protocol == v1::Listener::PROTOCOL_TCP || l.protocol == v1::Listener::PROTOCOL_TLS) {
      asio::co_spawn(io_, TcpSession(*this, listener, std::move(socket), std::move(admission)),
                     LogFailure("edge.session_failed"));
    } else {
      asio::co_spawn(io_, HttpSession(*this, listener, std::move(socket), std::move(admission)),
                     LogFailure("edge.session_failed"));
    }
  }
}

void Runtime::RefreshHealth() {
  const uint64_t sequence = shared_.health.sequence();
  if (sequence == health_sequence_) return;
  health_sequence_ = sequence;
  const std::shared_ptr<const HealthTable> table = shared_.health.Current();
  // Counters alone are republished under the same generation: nothing to recompute then. A
  // table of another config has other indices and is not used.
  if (table == nullptr || table->generation == health_generation_ ||
      table->config_version != config().version || table->clusters.size() != clusters_.size()) {
    return;
  }
  health_generation_ = table->generation;
  for (size_t i = 0; i < clusters_.size(); ++i) {
    ClusterState& c = *clusters_[i];
    if (table->clusters[i].endpoints.size() != c.health.size()) continue;
    c.health = table->clusters[i].endpoints;
    const bool was_panic = c.eligibility.panic();
    const bool was_failing_over = c.eligibility.failing_over();
    const ClusterConfig& cluster = config().clusters[i];
    c.eligibility = EligibilityOf(cluster, c.health);
    // Every worker computes the same; one of them says so.
    if (log_panic_ && was_panic != c.eligibility.panic()) {
      const EligibilityCounts& n = c.eligibility.counts();
      if (c.eligibility.panic()) {
        spdlog::warn(
            "event=cluster.panic_entered cluster={} usable={} total={} threshold_percent={} "
            "reason=\"too few healthy endpoints: balancing over all of them\"",
            cluster.name, n.usable, n.total, cluster.panic_threshold_percent);
      } else {
        spdlog::info("event=cluster.panic_left cluster={} usable={} total={}", cluster.name,
                     n.usable, n.total);
      }
    }
    if (log_panic_ && was_failing_over != c.eligibility.failing_over()) {
      const EligibilityCounts& n = c.eligibility.preferred();
      if (c.eligibility.failing_over()) {
        spdlog::warn(
            "event=cluster.failover_started cluster={} usable={} total={} below_percent={} "
            "reason=\"too few of this POP's own endpoints healthy: sending to the next "
            "locality too\"",
            cluster.name, n.usable, n.total, cluster.failover_below_percent);
      } else {
        spdlog::info("event=cluster.failover_ended cluster={} usable={} total={}", cluster.name,
                     n.usable, n.total);
      }
    }
  }
}

void Runtime::ReportOutcome(size_t cluster, size_t endpoint, RequestOutcome outcome) {
  if (serving_->monitor == nullptr) return;
  uint8_t& last_failed = clusters_[cluster]->last_failed[endpoint];
  const bool failed = outcome != RequestOutcome::kSuccess;
  // A run of successes needs no message: the monitor already counts none against it.
  if (!failed && last_failed == 0) return;
  last_failed = failed ? 1 : 0;
  serving_->monitor->ReportOutcome(cluster, endpoint, outcome);
}

std::optional<size_t> Runtime::Pick(size_t index, uint64_t hash, std::optional<size_t> avoid) {
  RefreshHealth();
  ClusterState& c = *clusters_[index];
  if (c.eligibility.panic()) Inc(c.metrics->panic_picks);
  return c.balancer->Pick(PickRequest{c.eligibility, hash, c.active_requests, avoid});
}

std::optional<asio::ip::tcp::socket> Runtime::TakeIdle(size_t cluster, size_t endpoint) {
  // Newest first: the least likely to have been closed by the backend's keep-alive timeout.
  ClusterState& c = *clusters_[cluster];
  auto& idle = c.idle[endpoint];
  while (!idle.empty()) {
    asio::ip::tcp::socket s = std::move(idle.back());
    idle.pop_back();
    switch (PeekIdle(s)) {
      case IdleState::kReady:
        return s;
      case IdleState::kClosed:
        break;  // the backend's keep-alive timeout: usual, closed quietly
      case IdleState::kStrayBytes:
        // RFC 9112 section 6.3: bytes after the end of a response are not a response to
        // anything sent; forwarded, they would answer the next client's request with another's
        // (response queue poisoning). The connection goes, counted; the backend is named in a
        // log line at most once a second.
        Inc(c.metrics->protocol_errors);
        if (TakeLogSample(c.metrics->protocol_error_logged)) {
          spdlog::warn(
              "event=http.upstream_protocol_error cluster={} endpoint={} total={} "
              "reason=\"bytes from the backend on an idle connection\"",
              config().clusters[cluster].name, config().clusters[cluster].endpoints[endpoint].key,
              Read(c.metrics->protocol_errors));
        }
        break;
    }
    Dec(c.metrics->active_connections);  // `s` closes as it goes out of scope
  }
  return std::nullopt;
}

void Runtime::PutIdle(size_t cluster, size_t endpoint, asio::ip::tcp::socket socket) {
  auto& idle = clusters_[cluster]->idle[endpoint];
  if (idle.size() >= kMaxIdlePerEndpoint || shared_.draining.load()) {
    Dec(clusters_[cluster]->metrics->active_connections);
    return;  // the socket closes as it goes out of scope
  }
  idle.push_back(std::move(socket));
}

}  // namespace holdfast::edge

namespace holdfast::edge {

void Runtime::BeginRequest(size_t cluster, size_t endpoint) {
  ++clusters_[cluster]->active_requests[endpoint];
  Inc(clusters_[cluster]->metrics->active_requests);
}

void Runtime::EndRequest(size_t cluster, size_t endpoint) {
  --clusters_[cluster]->active_requests[endpoint];
  Dec(clusters_[cluster]->metrics->active_requests);
}

void Runtime::DropIdle() {
  for (auto& c : clusters_) {
    for (auto& sockets : c->idle) {
      for (size_t i = 0; i < sockets.size(); ++i) Dec(c->metrics->active_connections);
      sockets.clear();
    }
  }
}

}  // namespace holdfast::edge
