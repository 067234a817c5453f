#include "edge/server/tcp_proxy.h"

#include <algorithm>
#include <array>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/write.hpp>
#include <optional>
#include <string>
#include <utility>

#include "common/net/await.h"
#include "edge/server/deadline.h"
#include "edge/server/stream_io.h"
#include "edge/server/upstream_connect.h"
#include "edge/server/worker.h"
#include "edge/upstream/stable_hash.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

using asio::ip::tcp;

// Copies one direction of an L4 connection; at the source's end, half-closes the destination.
template <typename From, typename To>
asio::awaitable<void> Pump(From& from, To& to, Deadline& deadline, absl::Duration idle) {
  std::array<char, kReadChunk> buf;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kAwait);
    if (n > 0) {
      deadline.Arm(idle, deadline.target, deadline.also);
      auto [wec, written] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kAwait);
      if (wec) break;
    }
    if (ec) break;
  }
  if constexpr (std::is_same_v<To, TlsStream>) {
    co_await CloseGracefully(to, deadline);
  } else {
    asio::error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);
  }
}

// An endpoint of the cluster connected to, or nullopt.
asio::awaitable<std::optional<std::pair<size_t, tcp::socket>>> ConnectAny(
    Worker& w, Runtime& runtime, size_t cluster_index, std::string_view client_ip,
    Deadline& deadline) {
  const ClusterConfig& cluster = runtime.config().clusters[cluster_index];
  ClusterMetrics& cm = runtime.cluster_metrics(cluster_index);
  std::optional<size_t> avoid;
  // Connect failures go to a different endpoint, as many times as the cluster has endpoints.
  for (size_t attempt = 0; attempt < std::max<size_t>(1, cluster.endpoints.size()); ++attempt) {
    const std::optional<size_t> picked = runtime.Pick(cluster_index, HashKey(client_ip), avoid);
    if (!picked.has_value()) {
      Inc(cm.no_endpoint);
      break;
    }
    avoid = picked;
    auto [outcome, s] = co_await Connect(w.io(), cluster, *picked, deadline);
    if (outcome == ConnectOutcome::kOk) {
      runtime.ReportOutcome(cluster_index, *picked, RequestOutcome::kSuccess);
      co_return std::make_pair(*picked, std::move(*s));
    }
    Inc(cm.connect_failures);
    runtime.ReportOutcome(cluster_index, *picked, RequestOutcome::kConnectFailure);
    if (attempt > 0) Inc(cm.retries);
  }
  co_return std::nullopt;
}

// `admission` lives in the frame: the connection counts as open until the coroutine ends.
template <typename ClientStream>
asio::awaitable<void> ProxyTcp(Worker& w, size_t listener_index, ClientStream client,
                               [[maybe_unused]] Admission admission) {
  // One Runtime for the connection's life: an L4 connection is one exchange.
  const std::shared_ptr<Runtime> runtime = w.Current();
  const ListenerConfig& listener = runtime->config().listeners[listener_index];
  const ClusterConfig& cluster = runtime->config().clusters[listener.cluster];
  ClusterMetrics& cm = runtime->cluster_metrics(listener.cluster);
  DeadlineScope deadline(w.io());

  asio::error_code ec;
  const std::string client_ip = Lowest(client).remote_endpoint(ec).address().to_string();
  if (!co_await Handshake(client, *deadline, w.shared().metrics->listener[listener_index],
                          listener.name, client_ip)) {
    co_return;
  }
  if (Read(cm.active_connections) >= cluster.max_connections) {
    runtime->cluster_gate(listener.cluster)
        .Refuse(std::chrono::steady_clock::now(), ShedReason::kMaxConnections);
    co_return;
  }
  auto upstream = co_await ConnectAny(w, *runtime, listener.cluster, client_ip, *deadline);
  if (!upstream.has_value()) {
    spdlog::warn("event=tcp.upstream_failed listener={} cluster={}", listener.name, cluster.name);
    co_return;
  }
  auto& [endpoint, socket] = *upstream;
  Inc(cm.active_connections);
  runtime->BeginRequest(listener.cluster, endpoint);
  // One deadline for both directions: traffic either way keeps the connection alive; when it
  // passes, both sockets close and both pumps end.
  deadline->Arm(listener.idle_timeout, &Lowest(client), &socket);
  using namespace asio::experimental::awaitable_operators;
  co_await (Pump(client, socket, *deadline, listener.idle_timeout) &&
            Pump(socket, client, *deadline, listener.idle_timeout));
  runtime->EndRequest(listener.cluster, endpoint);
  Dec(cm.active_connections);
}

}  // namespace

asio::awaitable<void> TcpSession(Worker& w, size_t listener, tcp::socket client,
                                 Admission admission) {
  const std::shared_ptr<Runtime> runtime = w.Current();
  const ListenerConfig& l = runtime->config().listeners[listener];
  if (l.tls != nullptr) {
    co_await ProxyTcp(w, listener, TlsStream(std::move(client), SSL_new(l.tls->initial())),
                      std::move(admission));
  } else {
    co_await ProxyTcp(w, listener, std::move(client), std::move(admission));
  }
}

}  // namespace holdfast::edge
