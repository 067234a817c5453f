#include "edge/server/http_connection.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/time/clock.h"
#include "common/net/await.h"
#include "edge/server/access_log.h"
#include "edge/server/byte_buffer.h"
#include "edge/server/deadline.h"
#include "edge/server/forwarded_heads.h"
#include "edge/server/gate_wait.h"
#include "edge/server/local_reply.h"
#include "edge/server/router.h"
#include "edge/server/stream_io.h"
#include "edge/server/upstream_request.h"
#include "edge/server/worker.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

using asio::ip::tcp;
using http::ParseStatus;
using SteadyClock = std::chrono::steady_clock;

// What the access log says of the request being served: the record, and copies of the head's
// strings for it (the head's views go stale once the body is read), which keep their capacity
// from request to request.
struct RequestLog {
  AccessRecord record;
  std::string method;
  std::string authority;
  std::string path;
  std::string user_agent;

  void Begin(absl::Time now) {
    record = AccessRecord{};
    record.start = now;
    method.clear();
    authority.clear();
    path.clear();
    user_agent.clear();
  }
  void Capture(const http::RequestHead& head) {
    method.assign(head.method);
    authority.assign(head.host);
    path.assign(head.target);
    user_agent.assign(head.Find("user-agent"));
    record.minor_version = head.minor_version;
  }
};

template <typename ClientStream>
class HttpConnection {
 public:
  static constexpr bool kTls = std::is_same_v<ClientStream, TlsStream>;

  HttpConnection(Worker& w, size_t listener, ClientStream client, Admission admission)
      : w_(w),
        runtime_(w.Current()),
        listener_index_(listener),
        listener_(&runtime_->config().listeners[listener]),
        metrics_(w.shared().metrics->listener[listener]),
        client_(std::move(client)),
        admission_(std::move(admission)),
        deadline_(w.io()) {
    asio::error_code ec;
    const tcp::endpoint peer = Lowest(client_).remote_endpoint(ec);
    if (!ec) client_ip_ = peer.address().to_string();
  }

  asio::awaitable<void> Run() {
    if (!co_await Handshake(client_, *deadline_, metrics_, listener_->name, client_ip_)) co_return;
    bool first = true;
    while (!w_.shared().draining.load() || first) {
      first = false;
      if (!co_await ReadHead()) co_return;
      const absl::Time start = absl::Now();
      log_.Begin(start);
      Inc(metrics_.requests);
      const int status = co_await Serve();
      const absl::Time end = absl::Now();
      if (status > 0) {
        Inc(metrics_.responses[std::clamp(status / 100, 1, 5)]);
        metrics_.latency.Observe(end - start);
      }
      WriteAccessLog(status, end);
      if (!keep_alive_) co_return;
    }
  }

 private:
  // Reads until a whole head is buffered. False: the connection is done (closed, timed out,
  // or answered with an error).
  asio::awaitable<bool> ReadHead() {
    runtime_ = w_.Current();
    listener_ = &runtime_->config().listeners[listener_index_];
    access_log_ = runtime_->access_log(listener_index_);
    method_.clear();  // the last request's; Answer() must not take a bad head for a HEAD
    parser_.Reset();
    bool started = !in_.empty();
    // When the head began: what the access log dates a refused or timed-out head from.
    absl::Time head_start = started ? absl::Now() : absl::InfinitePast();
    deadline_->Arm(started ? kHeadTimeout : listener_->idle_timeout, &Lowest(client_));
    for (;;) {
      if (!in_.empty()) {
        const http::ParseResult r = parser_.Parse(in_.view(), head_);
        if (r.status == ParseStatus::kComplete) {
          head_bytes_ = r.head_bytes;
          co_return true;
        }
        if (r.status == ParseStatus::kInvalid) {
          spdlog::debug("event=http.bad_request listener={} client={} status={} reason=\"{}\"",
                        listener_->name, client_ip_, r.http_status, r.error);
          log_.Begin(started ? head_start : absl::Now());
          Inc(metrics_.responses[4]);
          const int status = co_await Answer(
              {r.http_status, ResponseFlag::kDownstreamProtocolError, r.error}, false);
          WriteAccessLog(status, absl::Now());
          co_return false;
        }
        if (!started) {
          // Part of a head: the rest must come within kHeadTimeout, however it trickles in.
          started = true;
          head_start = absl::Now();
          deadline_->Arm(kHeadTimeout, &Lowest(client_));
        }
      } else {
        // Idle between requests: give back what a large request or response grew the
        // buffers to; the next read needs only a small one. This keeps idle keep-alive
        // connections small.
        if (in_.capacity() > ByteBuffer::kInitialCapacity) in_.Release();
        upstream_buf_.Release();
      }
      if constexpr (!kTls) {
        if (!started) {
          // Idle: warm for a moment, then parked (parking.h). A TLS connection stays: its
          // stream may hold decrypted bytes that the socket's readability would not show.
          ParkingLot::Warm warm(w_.parking(), client_);
          auto [ec, n] = co_await ReadSome(client_, in_);
          if (warm.park_requested() && ec == asio::error::operation_aborted && !deadline_->fired) {
            if (!w_.shared().draining.load()) {
              w_.parking().Park(listener_index_, std::move(client_), std::move(admission_),
                                warm.since() + absl::ToChronoNanoseconds(listener_->idle_timeout));
            }
            co_return false;
          }
          if (ec || n == 0) co_return false;
          continue;
        }
      }
      auto [ec, n] = co_await ReadSome(client_, in_);
      if (ec || n == 0) {
        if (deadline_->fired && started) {
          // Half a head and then silence: say so, as HAProxy and nginx do.
          log_.Begin(head_start);
          const int status = co_await Answer(
              {408, ResponseFlag::kDownstreamRequestTimeout, "request head not received in time"},
              false);
          WriteAccessLog(status, absl::Now());
        }
        co_return false;
      }
    }
  }

  // The edge's own answer; returns its status. A protocol error of the client's counts as a
  // bad request.
  asio::awaitable<int> Answer(const LocalReply& reply, bool keep_alive) {
    keep_alive_ = keep_alive;
    const bool head_request = method_ == "HEAD";
    log_.record.flag = reply.flag;
    log_.record.reason = reply.reason;
    log_.record.bytes_sent = head_request ? 0 : LocalReplyBody(reply).size();
    if (reply.flag == ResponseFlag::kDownstreamProtocolError) Inc(metrics_.bad_requests);
    deadline_->Arm(absl::Seconds(5), &Lowest(client_));
    co_await WriteAll(client_, RenderLocalReply(reply, keep_alive, head_request));
    if (!keep_alive) co_await CloseGracefully(client_, *deadline_);
    co_return reply.status;
  }

  // Forwards one request and its response. Returns the status sent to the client, or 0 when
  // the client went away before one was.
  asio::awaitable<int> Serve() {
    keep_alive_ = head_.keep_alive;
    // The head leaves the buffer now, whatever the answer: a request answered early (404, 503)
    // must not be read again as the next one. Its string_views stay valid until the next read
    // into in_ (the bytes are not moved); what is needed after that is copied first.
    in_.Consume(head_bytes_);
    method_.assign(head_.method);
    if (access_log_ != nullptr) log_.Capture(head_);
    if (ClientLimiter* limiter = runtime_->client_limiter(listener_index_)) {
      const std::string_view key = listener_->client_key_header.empty()
                                       ? std::string_view()
                                       : head_.Find(listener_->client_key_header);
      const ClientLimiter::Decision d =
          limiter->Take(key.empty() ? std::string_view(client_ip_) : key, SteadyClock::now());
      if (!d.allowed) {
        Inc(metrics_.rate_limited);
        LocalReply reply = ReplyFor(ResponseFlag::kRateLimited);
        reply.retry_after = d.retry_after;
        co_return co_await Answer(reply, keep_alive_ && head_.framing == http::BodyFraming::kNone);
      }
    }
    const RoutePlan plan = PlanRequest(runtime_->config(), *listener_, head_, client_ip_);
    if (plan.route != nullptr) {
      log_.record.route = plan.route->name;
      log_.record.cluster = runtime_->config().clusters[plan.route->cluster].name;
    }
    if (plan.reply.status != 0) {
      co_return co_await Answer(
          plan.reply, plan.reply.flag != ResponseFlag::kDownstreamProtocolError && keep_alive_ &&
                          !plan.has_body);
    }
    // The request's place in its cluster's gate, held until it is answered.
    auto passed =
        co_await PassGate(runtime_->cluster_gate(plan.route->cluster), plan.route->priority);
    if (auto* refusal = std::get_if<ClusterGate::Refusal>(&passed)) {
      co_return co_await Answer(ShedReply(*refusal), keep_alive_ && !plan.has_body);
    }
    ClusterGate::Ticket ticket = std::get<ClusterGate::Ticket>(std::move(passed));
    const RouteConfig& route = *plan.route;
    const ClusterConfig& cluster = runtime_->config().clusters[route.cluster];
    ClusterMetrics& cm = runtime_->cluster_metrics(route.cluster);
    const std::string upstream_head = UpstreamRequestHead(
        head_, client_ip_, kTls ? "https" : "http", head_.expect_continue, plan.drop_underscored);
    UpstreamRequest<ClientStream> upstream(
        w_, *runtime_,
        Downstream<ClientStream>{client_, in_, head_, method_, *deadline_, keep_alive_},
        upstream_buf_);
    std::optional<size_t> avoid;
    UpstreamFailure failure = UpstreamFailure::kNone;
    for (uint32_t attempt = 0; attempt < plan.attempts; ++attempt) {
      if (attempt > 0) Inc(cm.retries);
      const std::optional<size_t> endpoint = runtime_->Pick(route.cluster, plan.hash, avoid);
      if (!endpoint.has_value()) {
        Inc(cm.no_endpoint);
        failure = UpstreamFailure::kNoEndpoint;
        break;
      }
      avoid = endpoint;
      log_.record.upstream = cluster.endpoints[*endpoint].key;
      const AttemptResult r = co_await upstream.Run(plan, attempt, *endpoint, upstream_head);
      log_.record.bytes_received = r.request_body_bytes;
      log_.record.bytes_sent = r.response_body_bytes;
      log_.record.flag = r.flag;
      // What the gate learns of the backends: how long they took to answer the head of the
      // response the client got (a 5xx held back for another attempt keeps the place).
      if (r.response_head_at.has_value() && r.status != 0) {
        ticket.Finish(SteadyClock::now(),
                      std::chrono::duration_cast<Micros>(*r.response_head_at - ticket.since()));
      }
      if (r.reply.has_value()) co_return co_await Answer(*r.reply, false);
      if (r.status != 0) co_return r.status;
      failure = r.failure;
      if (failure == UpstreamFailure::kNone) {  // the client went away
        log_.record.flag = ResponseFlag::kDownstreamConnectionTermination;
        co_return 0;
      }
      if (!RetryAfter(plan, failure, attempt)) break;
    }
    LocalReply reply = ReplyFor(failure);
    if (failure == UpstreamFailure::kTimeout) {
      // The backends took at least this long: a latency sample like any other.
      const SteadyClock::time_point now = SteadyClock::now();
      ticket.Finish(now, std::chrono::duration_cast<Micros>(now - ticket.since()));
    } else if (failure == UpstreamFailure::kOverflow) {
      reply = ShedReply(runtime_->cluster_gate(route.cluster)
                            .Refuse(SteadyClock::now(), ShedReason::kMaxConnections));
    }
    spdlog::warn(
        "event=http.upstream_failed listener={} route={} cluster={} flags={} reason=\"{}\"",
        listener_->name, route.name, cluster.name, FlagCode(reply.flag), reply.reason);
    co_return co_await Answer(reply, keep_alive_ && !plan.has_body);
  }

  void WriteAccessLog(int status, absl::Time end) {
    if (access_log_ == nullptr) return;
    AccessRecord& record = log_.record;
    record.duration = end - record.start;
    record.listener = listener_->name;
    record.client = client_ip_;
    record.method = log_.method;
    record.authority = log_.authority;
    record.path = log_.path;
    record.user_agent = log_.user_agent;
    record.status = status;
    access_log_->Write(record);
  }

  Worker& w_;
  // The config and worker state this request runs on: taken afresh for each request, so a
  // reload applies from the next request of a keep-alive connection.
  std::shared_ptr<Runtime> runtime_;
  size_t listener_index_;
  const ListenerConfig* listener_;
  AccessLog* access_log_ = nullptr;
  ListenerMetrics& metrics_;
  ClientStream client_;
  Admission admission_;
  DeadlineScope deadline_;
  std::string client_ip_;
  ByteBuffer in_;
  ByteBuffer upstream_buf_;
  http::RequestParser parser_;
  // Views into in_, valid until the next read into it (Serve() copies what it needs first).
  http::RequestHead head_;
  size_t head_bytes_ = 0;
  std::string method_;
  bool keep_alive_ = true;
  RequestLog log_;
};

template <typename ClientStream>
asio::awaitable<void> ServeHttp(Worker& worker, size_t listener, ClientStream client,
                                Admission admission) {
  HttpConnection<ClientStream> connection(worker, listener, std::move(client),
                                          std::move(admission));
  co_await connection.Run();
}

}  // namespace

// Not a coroutine itself: each kind of connection gets a frame with only its own state.
asio::awaitable<void> HttpSession(Worker& worker, size_t listener, tcp::socket client,
                                  Admission admission) {
  const std::shared_ptr<Runtime> runtime = worker.Current();
  const ListenerConfig& l = runtime->config().listeners[listener];
  if (l.tls != nullptr) {
    return ServeHttp(worker, listener, TlsStream(std::move(client), SSL_new(l.tls->initial())),
                     std::move(admission));
  }
  return ServeHttp(worker, listener, std::move(client), std::move(admission));
}

}  // namespace holdfast::edge
