#include "edge/server/upstream_request.h"

#include <algorithm>
#include <asio/write.hpp>
#include <utility>

#include "common/net/await.h"
#include "edge/server/body_copy.h"
#include "edge/server/forwarded_heads.h"
#include "edge/server/upstream_connect.h"
#include "edge/server/worker.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {

using asio::ip::tcp;
using http::BodyFraming;
using http::ParseStatus;

template <typename ClientStream>
asio::awaitable<AttemptResult> UpstreamRequest<ClientStream>::Run(
    const RoutePlan& plan, uint32_t attempt, size_t endpoint, const std::string& upstream_head) {
  const RouteConfig& route = *plan.route;
  const ClusterConfig& cluster = runtime_.config().clusters[route.cluster];
  ClusterMetrics& cm = runtime_.cluster_metrics(route.cluster);
  AttemptResult result;
  // A pooled connection may have been closed by the backend a moment ago, after TakeIdle
  // looked at it; a request with a body is never risked on one. A bodiless one that meets a
  // closed connection there is sent again on a fresh one (ResendOnFresh).
  std::optional<tcp::socket> socket;
  bool reused = false;
  if (!plan.has_body) {
    socket = runtime_.TakeIdle(route.cluster, endpoint);
    reused = socket.has_value();
  }
  for (int fresh_tries = 0; fresh_tries < 2; ++fresh_tries) {
    if (!socket.has_value()) {
      if (Read(cm.active_connections) >= cluster.max_connections) {
        result.failure = UpstreamFailure::kOverflow;
        co_return result;
      }
      auto [outcome, s] = co_await Connect(w_.io(), cluster, endpoint, down_.deadline);
      if (outcome != ConnectOutcome::kOk) {
        Inc(cm.connect_failures);
        runtime_.ReportOutcome(route.cluster, endpoint, RequestOutcome::kConnectFailure);
        spdlog::info("event=http.connect_failed cluster={} endpoint={} timed_out={}", cluster.name,
                     cluster.endpoints[endpoint].key, outcome == ConnectOutcome::kTimedOut);
        result.failure = outcome == ConnectOutcome::kTimedOut ? UpstreamFailure::kConnectTimeout
                                                              : UpstreamFailure::kConnect;
        co_return result;
      }
      Inc(cm.active_connections);
      socket = std::move(s);
      reused = false;
    }
    Inc(cm.upstream_requests);
    result = AttemptResult{};
    runtime_.BeginRequest(route.cluster, endpoint);
    co_await Forward(plan, attempt, cm, *socket, upstream_head, result);
    runtime_.EndRequest(route.cluster, endpoint);
    if (const auto outcome = OutcomeFor(result.status, result.failure, reused)) {
      runtime_.ReportOutcome(route.cluster, endpoint, *outcome);
    }
    if (result.status != 0 ||
        !ResendOnFresh(result.failure, reused, request_sent_, plan.resendable)) {
      if (result.status == 0 || !reusable_) {
        Dec(cm.active_connections);
      } else {
        runtime_.PutIdle(route.cluster, endpoint, std::move(*socket));
      }
      co_return result;
    }
    // A reused connection closed under us before any response byte: once more, fresh.
    Dec(cm.active_connections);
    socket.reset();
  }
  co_return result;
}

template <typename ClientStream>
asio::awaitable<void> UpstreamRequest<ClientStream>::Forward(const RoutePlan& plan,
                                                             uint32_t attempt, ClusterMetrics& cm,
                                                             tcp::socket& upstream,
                                                             const std::string& upstream_head,
                                                             AttemptResult& result) {
  reusable_ = false;
  // The per-try timeout covers the exchange up to the response head; the deadline closes the
  // backend socket, which ends whatever is waiting on it.
  down_.deadline.Arm(plan.route->per_try_timeout, &upstream, &Lowest(down_.client));
  if (!co_await SendRequest(plan, upstream, upstream_head, result)) co_return;
  http::ResponseHead response;
  size_t head_bytes = 0;
  if (!co_await ReadResponseHead(plan, cm, upstream, response, head_bytes, result)) co_return;
  result.response_head_at = std::chrono::steady_clock::now();
  if (response.status >= 500 && HoldBack5xx(plan, attempt)) {
    // Not forwarded: another endpoint gets the request. This connection, with the unread rest
    // of the 5xx, is closed.
    result.failure = UpstreamFailure::k5xx;
    co_return;
  }
  co_await RelayResponse(plan, cm, upstream, response, head_bytes, result);
}

template <typename ClientStream>
asio::awaitable<bool> UpstreamRequest<ClientStream>::SendRequest(const RoutePlan& plan,
                                                                 tcp::socket& upstream,
                                                                 const std::string& upstream_head,
                                                                 AttemptResult& result) {
  const http::RequestHead& head = down_.head;
  ByteBuffer& in = down_.in;
  // The part of a Content-Length body that came with the head goes out with it.
  uint64_t body_left = head.content_length;
  size_t with_head = 0;
  if (head.framing == BodyFraming::kLength && !head.expect_continue) {
    with_head = static_cast<size_t>(std::min<uint64_t>(body_left, in.size()));
    body_left -= with_head;
  }
  {
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(upstream_head),
                                                       asio::buffer(in.view().data(), with_head)};
    auto [ec, n] = co_await asio::async_write(upstream, buffers, kAwait);
    request_sent_ = n > 0;
    if (ec) {
      result.failure = down_.deadline.fired ? UpstreamFailure::kTimeout : UpstreamFailure::kReset;
      co_return false;
    }
  }
  in.Consume(with_head);
  result.request_body_bytes = with_head;
  if (!plan.has_body) co_return true;
  if (head.expect_continue && co_await WriteAll(down_.client, "HTTP/1.1 100 Continue\r\n\r\n")) {
    result.flag = ResponseFlag::kDownstreamConnectionTermination;
    co_return false;
  }
  const BodyCopy copied = head.framing == BodyFraming::kChunked
                              ? co_await CopyChunked(down_.client, in, upstream, /*dechunk=*/false)
                              : co_await CopyLength(down_.client, in, body_left, upstream);
  result.request_body_bytes += copied.bytes;
  if (copied.ok) co_return true;
  if (copied.malformed) {
    // The backend got a head and part of a body; closing its connection ends that request
    // there. Nothing after the bad chunk is forwarded, ever.
    result.reply =
        LocalReply{400, ResponseFlag::kDownstreamProtocolError, "malformed chunked body"};
  } else if (copied.from_failed) {
    // The client's body broke off: nothing sensible can follow.
    down_.keep_alive = false;
    result.flag = ResponseFlag::kDownstreamConnectionTermination;
  } else {
    result.failure = down_.deadline.fired ? UpstreamFailure::kTimeout : UpstreamFailure::kReset;
  }
  co_return false;
}

template <typename ClientStream>
asio::awaitable<bool> UpstreamRequest<ClientStream>::ReadResponseHead(
    const RoutePlan& plan, ClusterMetrics& cm, tcp::socket& upstream, http::ResponseHead& response,
    size_t& head_bytes, AttemptResult& result) {
  up_.Clear();
  http::ResponseParser parser;
  for (;;) {
    const http::ParseResult r =
        up_.empty() ? http::ParseResult{} : parser.Parse(up_.view(), down_.method, response);
    if (r.status == ParseStatus::kInvalid) {
      spdlog::warn("event=http.bad_response cluster={} reason=\"{}\"",
                   runtime_.config().clusters[plan.route->cluster].name, r.error);
      result.failure = UpstreamFailure::kBadResponse;
      co_return false;
    }
    if (r.status == ParseStatus::kComplete) {
      if (response.status >= 200) {
        head_bytes = r.head_bytes;
        co_return true;
      }
      if (response.status == 101) {
        result.failure = UpstreamFailure::kBadResponse;
        result.reply =
            LocalReply{502, ResponseFlag::kUpstreamProtocolError, "protocol upgrade not supported"};
        co_return false;
      }
      // RFC 9110 section 15.2: an interim response is forwarded, unless it answers the edge's
      // own 100-continue (or the client speaks HTTP/1.0, which has no interim responses).
      const bool forward =
          !(response.status == 100 && down_.head.expect_continue) && down_.head.minor_version == 1;
      if (forward &&
          co_await WriteAll(down_.client, ClientResponseHead(response, 1, true, false))) {
        result.flag = ResponseFlag::kDownstreamConnectionTermination;
        co_return false;
      }
      up_.Consume(r.head_bytes);
      parser.Reset();
      continue;
    }
    auto [ec, n] = co_await ReadSome(upstream, up_);
    if (ec || n == 0) {
      if (down_.deadline.fired) {
        Inc(cm.timeouts);
        result.failure = UpstreamFailure::kTimeout;
      } else {
        result.failure = UpstreamFailure::kReset;
      }
      co_return false;
    }
  }
}

template <typename ClientStream>
asio::awaitable<void> UpstreamRequest<ClientStream>::RelayResponse(
    const RoutePlan& plan, ClusterMetrics& cm, tcp::socket& upstream,
    const http::ResponseHead& response, size_t head_bytes, AttemptResult& result) {
  const http::RequestHead& head = down_.head;
  const std::string_view cluster = runtime_.config().clusters[plan.route->cluster].name;
  const bool dechunk = response.framing == BodyFraming::kChunked && head.minor_version == 0;
  if (response.framing == BodyFraming::kUntilClose || dechunk) down_.keep_alive = false;
  if (w_.shared().draining.load()) down_.keep_alive = false;
  // The body may take the route's whole timeout; a client that stops reading, or a backend
  // that stops sending, is cut off by it.
  down_.deadline.Arm(plan.route->timeout, &upstream, &Lowest(down_.client));
  // The body bytes read with the head go out with it: one write for most responses.
  const std::string_view after_head = up_.view().substr(head_bytes);
  size_t out_with_head = 0;
  uint64_t out_left = response.content_length;
  if (response.framing == BodyFraming::kLength) {
    out_with_head = static_cast<size_t>(std::min<uint64_t>(out_left, after_head.size()));
    out_left -= out_with_head;
  } else if (response.framing == BodyFraming::kUntilClose) {
    out_with_head = after_head.size();
  }
  if (co_await WriteAll(down_.client,
                        ClientResponseHead(response, head.minor_version, down_.keep_alive, dechunk),
                        after_head.substr(0, out_with_head))) {
    down_.keep_alive = false;
    result.flag = ResponseFlag::kDownstreamConnectionTermination;
    co_return;
  }
  result.status = response.status;
  result.response_body_bytes = out_with_head;
  // Only now: the head's views point into up_.
  up_.Consume(head_bytes + out_with_head);
  BodyCopy copied;
  switch (response.framing) {
    case BodyFraming::kNone:
      break;
    case BodyFraming::kLength:
      copied = co_await CopyLength(upstream, up_, out_left, down_.client);
      break;
    case BodyFraming::kChunked:
      copied = co_await CopyChunked(upstream, up_, down_.client, dechunk);
      break;
    case BodyFraming::kUntilClose:
      copied = co_await CopyUntilClose(upstream, up_, down_.client);
      break;
  }
  result.response_body_bytes += copied.bytes;
  if (!copied.ok) {
    // Half a response went out: the only honest thing left is to close the client too.
    down_.keep_alive = false;
    if (copied.from_failed) {
      spdlog::warn("event=http.response_cut cluster={} timed_out={}", cluster,
                   down_.deadline.fired);
      result.flag = down_.deadline.fired ? ResponseFlag::kUpstreamRequestTimeout
                                         : ResponseFlag::kUpstreamConnectionTermination;
    } else {
      result.flag = ResponseFlag::kDownstreamConnectionTermination;
    }
  }
  reusable_ = copied.ok && response.keep_alive && response.framing != BodyFraming::kUntilClose &&
              up_.empty();
  if (copied.ok && !up_.empty()) {
    // RFC 9112 section 6.3: bytes after the end of a response answer nothing that was asked;
    // the connection goes with them (see Runtime::TakeIdle for those that come later).
    Inc(cm.protocol_errors);
    if (TakeLogSample(cm.protocol_error_logged)) {
      spdlog::warn(
          "event=http.upstream_protocol_error cluster={} total={} reason=\"bytes after the end "
          "of a response\"",
          cluster, Read(cm.protocol_errors));
    }
  }
}

template class UpstreamRequest<tcp::socket>;
template class UpstreamRequest<TlsStream>;

}  // namespace holdfast::edge
