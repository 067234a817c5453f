#include "edge/server/session.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/cat.h"
#include "common/net/await.h"
#include "edge/server/byte_buffer.h"
#include "edge/server/worker.h"
#include "edge/upstream/stable_hash.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

using asio::ip::tcp;
using http::BodyFraming;
using http::ParseStatus;

// Bodies stream through in reads of this size.
constexpr size_t kReadChunk = 16 * 1024;
// From the first byte of a request head to its end: a client dripping a head (slowloris) is
// cut off here, however often it sends a byte.
constexpr absl::Duration kHeadTimeout = absl::Seconds(10);

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// Cancels the I/O on the sockets it guards when its deadline passes, which ends whatever the
// session waits for with operation_aborted; `fired` tells the session why. Re-armed by the
// session for each phase. Arming is cheap on purpose: it only moves `at`, and the timer is
// touched only when the new deadline is earlier than the one it sleeps towards, so a request
// costs about one timer wakeup, not one per phase. A plain completion handler, not a
// coroutine: an idle connection holds one timer wait, nothing more. One per session, on the
// session's worker; the handler holds it weakly, so it may go while a wait is pending.
class Deadline : public std::enable_shared_from_this<Deadline> {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Deadline(asio::io_context& io) : timer_(io) {}

  static std::shared_ptr<Deadline> Start(asio::io_context& io) {
    auto d = std::make_shared<Deadline>(io);
    d->timer_.expires_at(Clock::time_point::max());
    d->Wait();
    return d;
  }

  // At `d` from now, cancels the I/O of `s` and `second` (when given).
  void Arm(absl::Duration d, tcp::socket* s, tcp::socket* second = nullptr) {
    target = s;
    also = second;
    fired = false;
    at_ = Clock::now() + ToChrono(d);
    if (at_ < timer_.expiry()) {
      timer_.expires_at(at_);  // the pending wait ends aborted; this one replaces it
      Wait();
    }
  }
  void Disarm() { at_ = Clock::time_point::max(); }
  void Finish() {
    target = also = nullptr;
    at_ = Clock::time_point::max();
    timer_.cancel();
  }

  tcp::socket* target = nullptr;
  tcp::socket* also = nullptr;
  bool fired = false;

 private:
  using Timer =
      asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, asio::io_context::executor_type>;

  void Wait() {
    timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
      if (ec) return;  // replaced by a nearer deadline, or finished
      if (const std::shared_ptr<Deadline> d = weak.lock()) d->OnTimer();
    });
  }

  void OnTimer() {
    if (Clock::now() < at_) {
      timer_.expires_at(at_);  // the deadline moved on while the timer slept
      Wait();
      return;
    }
    fired = true;
    asio::error_code ignored;
    if (target != nullptr) target->cancel(ignored);
    if (also != nullptr) also->cancel(ignored);
    at_ = Clock::time_point::max();
    timer_.expires_at(at_);
    Wait();
  }

  Timer timer_;
  Clock::time_point at_ = Clock::time_point::max();
};

std::shared_ptr<Deadline> StartDeadline(Worker& w) { return Deadline::Start(w.io()); }

using TlsStream = asio::ssl::stream<tcp::socket>;

// The TCP socket under a client stream: what deadlines cancel and addresses come from.
tcp::socket& Lowest(tcp::socket& s) { return s; }
tcp::socket& Lowest(TlsStream& s) { return s.next_layer(); }

// Appends what the socket has to `buf`, reading at most `want` bytes or what `buf` has room for.
// 0 with an error at the end.
template <typename Stream>
asio::awaitable<std::pair<asio::error_code, size_t>> ReadSome(Stream& s, ByteBuffer& buf,
                                                              size_t want = 512) {
  const std::span<char> space = buf.Prepare(want);
  auto [ec, n] = co_await s.async_read_some(asio::buffer(space.data(), space.size()), kAwait);
  buf.Commit(n);
  co_return std::make_pair(ec, n);
}

template <typename Stream>
asio::awaitable<asio::error_code> WriteAll(Stream& s, std::string_view data) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(data.data(), data.size()), kAwait);
  co_return ec;
}

// A head and the body bytes that came with it, in one write (one syscall for most responses).
template <typename Stream>
asio::awaitable<asio::error_code> WriteAll(Stream& s, std::string_view head,
                                           std::string_view body) {
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head.data(), head.size()),
                                                     asio::buffer(body.data(), body.size())};
  auto [ec, n] = co_await asio::async_write(s, buffers, kAwait);
  co_return ec;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

// An answer the edge makes itself. 503 carries Retry-After, so well-behaved clients back off
// instead of hammering an overloaded edge.
std::string ErrorResponse(int status, std::string_view why, bool keep_alive) {
  const std::string body = Cat(status, " ", ReasonPhrase(status), ": ", why, "\n");
  return Cat("HTTP/1.1 ", status, " ", ReasonPhrase(status),
             "\r\nContent-Type: text/plain\r\nContent-Length: ", body.size(),
             status == 503 ? "\r\nRetry-After: 1" : "", keep_alive ? "" : "\r\nConnection: close",
             "\r\nVia: 1.1 holdfast\r\n\r\n", body);
}

// RFC 9110 section 7.6.1: fields that describe one connection, never forwarded.
bool IsHopByHop(std::string_view name) {
  static constexpr std::string_view kFields[] = {"connection", "keep-alive", "proxy-connection",
                                                 "te",         "trailer",    "upgrade"};
  for (const std::string_view f : kFields) {
    if (http::EqualsIgnoreCase(name, f)) return true;
  }
  return false;
}

// Fields the Connection field names (`options`) are hop-by-hop too, except those that frame the
// message or name its host: a client listing "Content-Length" there must not get it stripped on
// the way (a smuggling trick), nor the backend lose the Host that was routed on.
bool NamedByConnection(std::string_view name, const std::vector<std::string_view>& options) {
  if (http::EqualsIgnoreCase(name, "content-length") ||
      http::EqualsIgnoreCase(name, "transfer-encoding") || http::EqualsIgnoreCase(name, "host")) {
    return false;
  }
  for (const std::string_view option : options) {
    if (http::EqualsIgnoreCase(option, name)) return true;
  }
  return false;
}

// The target in origin-form: absolute-form targets lose their scheme and authority.
std::string_view OriginForm(std::string_view target, std::string& storage) {
  if (target.empty() || target.front() == '/' || target == "*") return target;
  const size_t scheme_end = target.find("://");
  std::string_view rest = target.substr(scheme_end + 3);
  const size_t path = rest.find_first_of("/?#");
  rest = path == std::string_view::npos ? std::string_view() : rest.substr(path);
  if (!rest.empty() && rest.front() == '/') return rest;
  storage = Cat("/", rest);
  return storage;
}

// Whether a request field's name has an underscore (see Listener.headers_with_underscores).
bool HasUnderscoredField(const http::RequestHead& head) {
  for (const http::Header& h : head.headers) {
    if (h.name.find('_') != std::string_view::npos) return true;
  }
  return false;
}

bool IsIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE" || method == "TRACE";
}

// Copies a body of known framing from `from` (with `buffered` bytes already read) to `to`.
// `buffered` keeps what follows the body. Returns false when either side failed or the body
// was malformed.
struct BodyCopy {
  bool ok = true;
  bool from_failed = false;  // the source closed or failed (as opposed to the destination)
  bool malformed = false;    // the source sent a body that breaks its framing
};

template <typename From, typename To>
asio::awaitable<BodyCopy> CopyLength(From& from, ByteBuffer& buffered, uint64_t length, To& to) {
  while (length > 0) {
    if (buffered.empty()) {
      auto [ec, n] = co_await ReadSome(from, buffered, kReadChunk);
      if (ec || n == 0) co_return BodyCopy{false, true};
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(length, buffered.size()));
    if (co_await WriteAll(to, buffered.view().substr(0, take))) {
      co_return BodyCopy{false, false};
    }
    buffered.Consume(take);
    length -= take;
  }
  co_return BodyCopy{};
}

// Chunked: forwards exactly the chunks the decoder checked and the trailer fields it let
// through, or (dechunk) only the payload.
template <typename From, typename To>
asio::awaitable<BodyCopy> CopyChunked(From& from, ByteBuffer& buffered, To& to, bool dechunk) {
  http::ChunkedDecoder decoder;
  std::string payload;
  for (;;) {
    if (buffered.empty()) {
      auto [ec, n] = co_await ReadSome(from, buffered, kReadChunk);
      if (ec || n == 0) co_return BodyCopy{false, true};
    }
    payload.clear();
    const auto r = decoder.Feed(buffered.view(), dechunk ? &payload : nullptr);
    if (r.error) co_return BodyCopy{false, true, true};
    const std::string_view out =
        dechunk ? std::string_view(payload) : buffered.view().substr(0, r.forward);
    const std::string_view trailers = r.done && !dechunk ? decoder.trailers() : "";
    if (!out.empty() || !trailers.empty()) {
      if (co_await WriteAll(to, out, trailers)) co_return BodyCopy{false, false};
    }
    buffered.Consume(r.consumed);
    if (r.done) {
      if (decoder.dropped_trailers() > 0) {
        spdlog::debug("event=http.trailers_dropped count={} reason=\"{}\"",
                      decoder.dropped_trailers(), "fields that must not be sent as trailers");
      }
      co_return BodyCopy{};
    }
  }
}

template <typename From, typename To>
asio::awaitable<BodyCopy> CopyUntilClose(From& from, ByteBuffer& buffered, To& to) {
  for (;;) {
    if (!buffered.empty()) {
      if (co_await WriteAll(to, buffered.view())) co_return BodyCopy{false, false};
      buffered.Clear();
    }
    auto [ec, n] = co_await ReadSome(from, buffered, kReadChunk);
    if (ec == asio::error::eof || (!ec && n == 0)) co_return BodyCopy{};
    if (ec) co_return BodyCopy{false, true};
  }
}

// Ends a client connection the edge decided to close: FIN after the last byte (plain), or a
// TLS close_notify first, waiting for the client's at most one second.
asio::awaitable<void> CloseGracefully(tcp::socket& s, Deadline&) {
  asio::error_code ignored;
  s.shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}
asio::awaitable<void> CloseGracefully(TlsStream& s, Deadline& deadline) {
  deadline.Arm(absl::Seconds(1), &s.next_layer());
  co_await s.async_shutdown(kAwait);
  asio::error_code ignored;
  s.next_layer().shutdown(tcp::socket::shutdown_send, ignored);
}

// One upstream connection in use by a request.
struct UpstreamConn {
  tcp::socket socket;
  size_t endpoint = 0;
  bool reused = false;
};

enum class ConnectOutcome { kOk, kFailed, kTimedOut };

asio::awaitable<std::pair<ConnectOutcome, std::optional<tcp::socket>>> Connect(
    Worker& w, const ClusterConfig& c, size_t endpoint, Deadline& deadline) {
  tcp::socket s(w.io());
  deadline.Arm(c.connect_timeout, &s);
  auto [ec] = co_await s.async_connect(c.addresses[endpoint], kAwait);
  const bool timed_out = deadline.fired;
  deadline.Disarm();
  if (ec) {
    co_return std::make_pair(timed_out ? ConnectOutcome::kTimedOut : ConnectOutcome::kFailed,
                             std::nullopt);
  }
  s.set_option(tcp::no_delay(true), ec);
  co_return std::make_pair(ConnectOutcome::kOk, std::optional<tcp::socket>(std::move(s)));
}

// Why the last upstream attempt failed, for the answer and the retry decision.
enum class Failure {
  kNone,
  kNoEndpoint,
  kShed,
  kConnect,
  kConnectTimeout,
  kReset,
  kTimeout,
  kBadResponse,
  k5xx,  // the backend answered 5xx and the route retries those
};

int StatusFor(Failure f) {
  switch (f) {
    case Failure::kNoEndpoint:
    case Failure::kShed:
      return 503;
    case Failure::kConnectTimeout:
    case Failure::kTimeout:
      return 504;
    default:
      return 502;
  }
}

std::string_view Describe(Failure f) {
  switch (f) {
    case Failure::kNoEndpoint:
      return "no healthy endpoint";
    case Failure::kShed:
      return "cluster over its limits";
    case Failure::kConnect:
      return "cannot connect to backend";
    case Failure::kConnectTimeout:
      return "backend connect timed out";
    case Failure::kReset:
      return "backend closed the connection";
    case Failure::kTimeout:
      return "backend timed out";
    case Failure::kBadResponse:
      return "invalid response from backend";
    case Failure::k5xx:
      return "backend answered 5xx";
    case Failure::kNone:
      return "";
  }
  return "";
}

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
        deadline_(StartDeadline(w)) {
    asio::error_code ec;
    const tcp::endpoint peer = Lowest(client_).remote_endpoint(ec);
    if (!ec) client_ip_ = peer.address().to_string();
  }
  ~HttpConnection() { deadline_->Finish(); }

  // TLS: the handshake, within kHeadTimeout. False when it failed (counted, logged at debug).
  asio::awaitable<bool> Handshake() {
    if constexpr (kTls) {
      deadline_->Arm(kHeadTimeout, &Lowest(client_));
      auto [ec] = co_await client_.async_handshake(asio::ssl::stream_base::server, kAwait);
      if (ec) {
        Inc(metrics_.tls_handshake_failures);
        spdlog::debug("event=tls.handshake_failed listener={} client={} error=\"{}\"",
                      listener_->name, client_ip_, ec.message());
        co_return false;
      }
    }
    co_return true;
  }

  asio::awaitable<void> Run() {
    bool first = true;
    while (!w_.shared().draining.load() || first) {
      first = false;
      if (!co_await ReadHead()) co_return;
      const absl::Time start = absl::Now();
      Inc(metrics_.requests);
      const int status = co_await Serve();
      if (status > 0) {
        Inc(metrics_.responses[std::clamp(status / 100, 1, 5)]);
        metrics_.latency.Observe(absl::Now() - start);
      }
      if (!keep_alive_) co_return;
    }
  }

 private:
  // Reads until a whole head is buffered. False: the connection is done (closed, timed out,
  // or answered with an error).
  asio::awaitable<bool> ReadHead() {
    runtime_ = w_.Current();
    listener_ = &runtime_->config().listeners[listener_index_];
    parser_.Reset();
    bool started = !in_.empty();
    deadline_->Arm(started ? kHeadTimeout : listener_->idle_timeout, &Lowest(client_));
    for (;;) {
      if (!in_.empty()) {
        const http::ParseResult r = parser_.Parse(in_.view(), head_);
        if (r.status == ParseStatus::kComplete) {
          head_bytes_ = r.head_bytes;
          co_return true;
        }
        if (r.status == ParseStatus::kInvalid) {
          Inc(metrics_.bad_requests);
          Inc(metrics_.responses[4]);
          spdlog::debug("event=http.bad_request listener={} client={} status={} reason=\"{}\"",
                        listener_->name, client_ip_, r.http_status, r.error);
          co_await Answer(r.http_status, r.error, /*keep_alive=*/false);
          co_return false;
        }
        if (!started) {
          // Part of a head: the rest must come within kHeadTimeout, however it trickles in.
          started = true;
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
                                warm.since() + ToChrono(listener_->idle_timeout));
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
          co_await Answer(408, "request head not received in time", false);
        }
        co_return false;
      }
    }
  }

  asio::awaitable<void> Answer(int status, std::string_view why, bool keep_alive) {
    keep_alive_ = keep_alive;
    deadline_->Arm(absl::Seconds(5), &Lowest(client_));
    co_await WriteAll(client_, ErrorResponse(status, why, keep_alive));
    if (!keep_alive) co_await CloseGracefully(client_, *deadline_);
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
    const RouteConfig* route = nullptr;
    {
      std::string storage;
      const std::string_view path = OriginForm(head_.target, storage);
      route = runtime_->config().Match(*listener_, head_.host, path);
    }
    const bool has_body = head_.framing != BodyFraming::kNone;
    // Most listeners drop or refuse underscored names; one that allows them needs no scan.
    const bool underscored =
        listener_->headers_with_underscores != v1::Listener::HEADERS_WITH_UNDERSCORES_ALLOW &&
        HasUnderscoredField(head_);
    if (underscored &&
        listener_->headers_with_underscores == v1::Listener::HEADERS_WITH_UNDERSCORES_REJECT) {
      Inc(metrics_.bad_requests);
      co_await Answer(400, "header name with an underscore", false);
      co_return 400;
    }
    if (route == nullptr) {
      co_await Answer(404, "no route for this host and path", keep_alive_ && !has_body);
      co_return 404;
    }
    const ClusterConfig& cluster = runtime_->config().clusters[route->cluster];
    ClusterMetrics& cm = runtime_->cluster_metrics(route->cluster);

    // Circuit breaker: a cluster over its request limit is answered at once, never queued.
    if (Read(cm.active_requests) >= cluster.max_requests) {
      Inc(cm.shed);
      co_await Answer(503, Describe(Failure::kShed), keep_alive_ && !has_body);
      co_return 503;
    }

    // Only Maglev hashes; the others are spared the work.
    uint64_t hash = 0;
    if (cluster.lb->policy() == LbPolicy::kMaglev) {
      hash = HashKey(cluster.hash_header.empty() ? std::string_view(client_ip_)
                                                 : head_.Find(cluster.hash_header));
    }
    // Retries need the request again: only bodiless requests are retried.
    const uint32_t attempts = 1 + (has_body ? 0 : route->retries);
    // RFC 9110 section 9.2.2: a request that may change something is sent again only when the
    // route says that is safe, whatever the connection it went out on.
    const bool resendable = IsIdempotent(method_) || route->retry_non_idempotent;
    std::optional<size_t> avoid;
    Failure failure = Failure::kNone;
    const bool drop_underscored = underscored && listener_->headers_with_underscores ==
                                                     v1::Listener::HEADERS_WITH_UNDERSCORES_DROP;
    const std::string upstream_head = UpstreamRequestHead(
        head_, client_ip_, kTls ? "https" : "http", head_.expect_continue, drop_underscored);

    for (uint32_t attempt = 0; attempt < attempts; ++attempt) {
      if (attempt > 0) Inc(cm.retries);
      const std::optional<size_t> endpoint = runtime_->Pick(route->cluster, hash, avoid);
      if (!endpoint.has_value()) {
        Inc(cm.no_endpoint);
        failure = Failure::kNoEndpoint;
        break;
      }
      avoid = endpoint;
      // A 5xx is retried only while the client has seen nothing, the request can be sent again
      // (no body) and means the same twice (idempotent), and another attempt is left.
      retry_5xx_ = route->retry_5xx && !has_body && resendable && attempt + 1 < attempts;
      const int status = co_await Exchange(*route, cluster, cm, *endpoint, upstream_head, has_body,
                                           resendable, failure);
      if (status != 0) co_return status;
      if (failure == Failure::kNone) co_return 0;  // the client went away
      // A connection that could not be made carried no byte of the request.
      const bool retriable =
          ((failure == Failure::kConnect || failure == Failure::kConnectTimeout) &&
           route->retry_connect_failure) ||
          (failure == Failure::kReset && route->retry_reset && resendable) ||
          failure == Failure::k5xx;
      if (!retriable) break;
    }
    spdlog::warn("event=http.upstream_failed listener={} route={} cluster={} reason=\"{}\"",
                 listener_->name, route->name, cluster.name, Describe(failure));
    const int status = StatusFor(failure);
    co_await Answer(status, Describe(failure), keep_alive_ && !has_body);
    co_return status;
  }

  // One attempt against one endpoint. Returns the status forwarded to the client, or 0 with
  // `failure` set when nothing was sent to the client yet (the caller may retry), or 0 with
  // kNone when the client failed.
  asio::awaitable<int> Exchange(const RouteConfig& route, const ClusterConfig& cluster,
                                ClusterMetrics& cm, size_t endpoint,
                                const std::string& upstream_head, bool has_body, bool resendable,
                                Failure& failure) {
    // A pooled connection may have been closed by the backend a moment ago, after TakeIdle
    // looked at it; a request with a body is never risked on one. A bodiless one that meets a
    // closed connection there is sent again on a fresh one, if it is `resendable` or none of
    // its bytes went out: the backend may have read it before it closed.
    std::optional<tcp::socket> socket;
    bool reused = false;
    if (!has_body) {
      socket = runtime_->TakeIdle(route.cluster, endpoint);
      reused = socket.has_value();
    }
    for (int fresh_tries = 0; fresh_tries < 2; ++fresh_tries) {
      if (!socket.has_value()) {
        if (Read(cm.active_connections) >= cluster.max_connections) {
          Inc(cm.shed);
          failure = Failure::kShed;
          co_return 0;
        }
        auto [outcome, s] = co_await Connect(w_, cluster, endpoint, *deadline_);
        if (outcome != ConnectOutcome::kOk) {
          Inc(cm.connect_failures);
          runtime_->ReportOutcome(route.cluster, endpoint, RequestOutcome::kConnectFailure);
          spdlog::info("event=http.connect_failed cluster={} endpoint={} timed_out={}",
                       cluster.name, cluster.endpoints[endpoint].key,
                       outcome == ConnectOutcome::kTimedOut);
          failure =
              outcome == ConnectOutcome::kTimedOut ? Failure::kConnectTimeout : Failure::kConnect;
          co_return 0;
        }
        Inc(cm.active_connections);
        socket = std::move(s);
        reused = false;
      }
      Inc(cm.upstream_requests);
      failure = Failure::kNone;
      runtime_->BeginRequest(route.cluster, endpoint);
      const int status =
          co_await Forward(route, cluster, cm, *socket, upstream_head, has_body, failure);
      runtime_->EndRequest(route.cluster, endpoint);
      // Gateway failures (reset, timeout, garbage) count against the endpoint like a 5xx; a
      // client that went away says nothing about it.
      if (status >= 500 ||
          (status == 0 && failure != Failure::kNone && !(failure == Failure::kReset && reused))) {
        runtime_->ReportOutcome(route.cluster, endpoint, RequestOutcome::k5xx);
      } else if (status != 0) {
        runtime_->ReportOutcome(route.cluster, endpoint, RequestOutcome::kSuccess);
      }
      if (status != 0 || failure != Failure::kReset || !reused || (request_sent_ && !resendable)) {
        if (status == 0 || !reuse_upstream_) {
          Dec(cm.active_connections);
        } else {
          runtime_->PutIdle(route.cluster, endpoint, std::move(*socket));
        }
        co_return status;
      }
      // A reused connection closed under us before any response byte: once more, fresh.
      Dec(cm.active_connections);
      socket.reset();
    }
    co_return 0;
  }

  // Sends the request on `upstream` and relays the response.
  asio::awaitable<int> Forward(const RouteConfig& route, const ClusterConfig& cluster,
                               ClusterMetrics& cm, tcp::socket& upstream,
                               const std::string& upstream_head, bool has_body, Failure& failure) {
    reuse_upstream_ = false;
    // The route's timeout covers the whole exchange; the deadline closes the backend socket,
    // which ends whatever is waiting on it.
    deadline_->Arm(route.per_try_timeout, &upstream, &Lowest(client_));
    // The part of a Content-Length body that came with the head goes out with it.
    uint64_t body_left = head_.content_length;
    size_t with_head = 0;
    if (head_.framing == BodyFraming::kLength && !head_.expect_continue) {
      with_head = static_cast<size_t>(std::min<uint64_t>(body_left, in_.size()));
      body_left -= with_head;
    }
    {
      const std::array<asio::const_buffer, 2> buffers = {
          asio::buffer(upstream_head), asio::buffer(in_.view().data(), with_head)};
      auto [ec, n] = co_await asio::async_write(upstream, buffers, kAwait);
      request_sent_ = n > 0;
      if (ec) {
        failure = deadline_->fired ? Failure::kTimeout : Failure::kReset;
        co_return 0;
      }
    }
    in_.Consume(with_head);
    if (has_body) {
      if (head_.expect_continue && co_await WriteAll(client_, "HTTP/1.1 100 Continue\r\n\r\n")) {
        failure = Failure::kNone;
        co_return 0;
      }
      const BodyCopy copied = head_.framing == BodyFraming::kChunked
                                  ? co_await CopyChunked(client_, in_, upstream, /*dechunk=*/false)
                                  : co_await CopyLength(client_, in_, body_left, upstream);
      if (!copied.ok) {
        if (copied.malformed) {
          // The backend got a head and part of a body; closing its connection ends that
          // request there. Nothing after the bad chunk is forwarded, ever.
          Inc(metrics_.bad_requests);
          co_await Answer(400, "malformed chunked body", false);
          co_return 400;
        }
        if (copied.from_failed) {
          // The client's body broke off: nothing sensible can follow.
          keep_alive_ = false;
          failure = Failure::kNone;
          co_return 0;
        }
        failure = deadline_->fired ? Failure::kTimeout : Failure::kReset;
        co_return 0;
      }
    }

    // The response head; interim 1xx responses are passed on and the next head read.
    ByteBuffer& up = upstream_buf_;
    up.Clear();
    http::ResponseParser parser;
    http::ResponseHead response;
    size_t response_head_bytes = 0;
    for (;;) {
      const http::ParseResult r =
          up.empty() ? http::ParseResult{} : parser.Parse(up.view(), method_, response);
      if (r.status == ParseStatus::kInvalid) {
        spdlog::warn("event=http.bad_response cluster={} reason=\"{}\"", cluster.name, r.error);
        failure = Failure::kBadResponse;
        keep_alive_ = keep_alive_ && !has_body;
        co_await Answer(502, Describe(failure), keep_alive_);
        co_return 502;
      }
      if (r.status == ParseStatus::kComplete) {
        if (response.status >= 100 && response.status < 200) {
          if (response.status == 101) {
            failure = Failure::kBadResponse;  // upgrades are not proxied
            co_await Answer(502, "protocol upgrade not supported", false);
            co_return 502;
          }
          // RFC 9110 section 15.2: forwarded, unless it answers the edge's own 100-continue
          // (or the client speaks HTTP/1.0, which has no interim responses).
          const bool forward =
              !(response.status == 100 && head_.expect_continue) && head_.minor_version == 1;
          if (forward && co_await WriteAll(client_, ClientResponseHead(response, 1, true, false))) {
            failure = Failure::kNone;
            co_return 0;
          }
          up.Consume(r.head_bytes);
          parser.Reset();
          continue;
        }
        response_head_bytes = r.head_bytes;
        break;
      }
      auto [ec, n] = co_await ReadSome(upstream, up);
      if (ec || n == 0) {
        if (deadline_->fired) {
          Inc(cm.timeouts);
          failure = Failure::kTimeout;
        } else {
          failure = Failure::kReset;
        }
        co_return 0;
      }
    }

    if (retry_5xx_ && response.status >= 500) {
      // Not forwarded: another endpoint gets the request. This connection, with the unread
      // rest of the 5xx, is closed.
      failure = Failure::k5xx;
      co_return 0;
    }
    const bool dechunk = response.framing == BodyFraming::kChunked && head_.minor_version == 0;
    if (response.framing == BodyFraming::kUntilClose || dechunk) keep_alive_ = false;
    if (w_.shared().draining.load()) keep_alive_ = false;
    // The body may take the route's whole timeout; a client that stops reading, or a backend
    // that stops sending, is cut off by it.
    deadline_->Arm(route.timeout, &upstream, &Lowest(client_));
    // The body bytes read with the head go out with it: one write for most responses.
    const std::string_view after_head = up.view().substr(response_head_bytes);
    size_t out_with_head = 0;
    uint64_t out_left = response.content_length;
    if (response.framing == BodyFraming::kLength) {
      out_with_head = static_cast<size_t>(std::min<uint64_t>(out_left, after_head.size()));
      out_left -= out_with_head;
    } else if (response.framing == BodyFraming::kUntilClose) {
      out_with_head = after_head.size();
    }
    if (co_await WriteAll(client_,
                          ClientResponseHead(response, head_.minor_version, keep_alive_, dechunk),
                          after_head.substr(0, out_with_head))) {
      failure = Failure::kNone;
      keep_alive_ = false;
      co_return 0;
    }
    // Only now: the head's string_views point into `up`.
    up.Consume(response_head_bytes + out_with_head);
    BodyCopy copied;
    switch (response.framing) {
      case BodyFraming::kNone:
        break;
      case BodyFraming::kLength:
        copied = co_await CopyLength(upstream, up, out_left, client_);
        break;
      case BodyFraming::kChunked:
        copied = co_await CopyChunked(upstream, up, client_, dechunk);
        break;
      case BodyFraming::kUntilClose:
        copied = co_await CopyUntilClose(upstream, up, client_);
        break;
    }
    if (!copied.ok) {
      // Half a response went out: the only honest thing left is to close the client too.
      keep_alive_ = false;
      if (copied.from_failed) {
        spdlog::warn("event=http.response_cut cluster={} timed_out={}", cluster.name,
                     deadline_->fired);
      }
    }
    reuse_upstream_ = copied.ok && response.keep_alive &&
                      response.framing != BodyFraming::kUntilClose && up.empty();
    if (copied.ok && !up.empty()) {
      // RFC 9112 section 6.3: bytes after the end of a response answer nothing that was asked;
      // the connection goes with them (see Runtime::TakeIdle for those that come later).
      Inc(cm.protocol_errors);
      if (TakeLogSample(cm.protocol_error_logged)) {
        spdlog::warn(
            "event=http.upstream_protocol_error cluster={} total={} reason=\"bytes after the end "
            "of a response\"",
            cluster.name, Read(cm.protocol_errors));
      }
    }
    co_return response.status;
  }

  Worker& w_;
  // The config and worker state this request runs on: taken afresh for each request, so a
  // reload applies from the next request of a keep-alive connection.
  std::shared_ptr<Runtime> runtime_;
  size_t listener_index_;
  const ListenerConfig* listener_;
  ListenerMetrics& metrics_;
  ClientStream client_;
  Admission admission_;
  std::shared_ptr<Deadline> deadline_;
  std::string client_ip_;
  ByteBuffer in_;
  ByteBuffer upstream_buf_;
  http::RequestParser parser_;
  // Views into in_, valid until the next read into it (Serve() copies what it needs first).
  http::RequestHead head_;
  size_t head_bytes_ = 0;
  std::string method_;
  bool keep_alive_ = true;
  bool reuse_upstream_ = false;
  bool retry_5xx_ = false;
  // Some byte of the request went out on the upstream connection of the last attempt.
  bool request_sent_ = false;
};

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

}  // namespace

std::string UpstreamRequestHead(const http::RequestHead& head, std::string_view client_ip,
                                std::string_view proto, bool drop_expect, bool drop_underscored) {
  std::string storage;
  std::string out = Cat(head.method, " ", OriginForm(head.target, storage), " HTTP/1.1\r\n");
  std::string_view xff;
  std::string_view forwarded;
  std::string_view via;
  bool host_sent = false;
  std::vector<std::string_view> options;
  http::ConnectionOptions(head.headers, options);
  for (const http::Header& h : head.headers) {
    if (IsHopByHop(h.name) || NamedByConnection(h.name, options)) continue;
    if (drop_expect && http::EqualsIgnoreCase(h.name, "expect")) continue;
    if (drop_underscored && h.name.find('_') != std::string_view::npos) continue;
    // Appended to below, as one field each.
    if (http::EqualsIgnoreCase(h.name, "x-forwarded-for")) {
      xff = h.value;
      continue;
    }
    if (http::EqualsIgnoreCase(h.name, "forwarded")) {
      forwarded = h.value;
      continue;
    }
    if (http::EqualsIgnoreCase(h.name, "via")) {
      via = h.value;
      continue;
    }
    if (http::EqualsIgnoreCase(h.name, "x-forwarded-proto")) continue;  // the edge knows
    if (http::EqualsIgnoreCase(h.name, "host")) {
      // An absolute-form target's authority replaced the Host field (RFC 9112 section 3.2.2).
      Append(out, "Host: ", head.host, "\r\n");
      host_sent = true;
      continue;
    }
    Append(out, h.name, ": ", h.value, "\r\n");
  }
  if (!host_sent && !head.host.empty()) Append(out, "Host: ", head.host, "\r\n");
  const bool v6 = client_ip.find(':') != std::string_view::npos;
  Append(out, "X-Forwarded-For: ", xff, xff.empty() ? "" : ", ", client_ip, "\r\n");
  Append(out, "X-Forwarded-Proto: ", proto, "\r\n");
  Append(out, "Forwarded: ", forwarded, forwarded.empty() ? "" : ", ", "for=", v6 ? "\"[" : "",
         client_ip, v6 ? "]\"" : "", ";proto=", proto, "\r\n");
  Append(out, "Via: ", via, via.empty() ? "" : ", ", "1.", head.minor_version, " holdfast\r\n\r\n");
  return out;
}

std::string ClientResponseHead(const http::ResponseHead& head, int client_minor_version,
                               bool keep_alive, bool dechunk) {
  std::string out =
      Cat("HTTP/1.", client_minor_version, " ", head.status, " ", head.reason, "\r\n");
  std::string_view via;
  std::vector<std::string_view> options;
  http::ConnectionOptions(head.headers, options);
  for (const http::Header& h : head.headers) {
    if (IsHopByHop(h.name) || NamedByConnection(h.name, options)) continue;
    if (dechunk && http::EqualsIgnoreCase(h.name, "transfer-encoding")) continue;
    if (http::EqualsIgnoreCase(h.name, "via")) {
      via = h.value;
      continue;
    }
    Append(out, h.name, ": ", h.value, "\r\n");
  }
  Append(out, "Via: ", via, via.empty() ? "" : ", ", "1.", head.minor_version, " holdfast\r\n");
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (client_minor_version == 0) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

namespace {

template <typename ClientStream>
asio::awaitable<void> ServeHttp(Worker& worker, size_t listener, ClientStream client,
                                Admission admission) {
  HttpConnection<ClientStream> connection(worker, listener, std::move(client),
                                          std::move(admission));
  if (co_await connection.Handshake()) co_await connection.Run();
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

namespace {

// `admission` lives in the frame: the connection counts as open until the coroutine ends.
template <typename ClientStream>
asio::awaitable<void> ProxyTcp(Worker& w, size_t listener_index, ClientStream client,
                               [[maybe_unused]] Admission admission) {
  // One Runtime for the connection's life: an L4 connection is one exchange.
  const std::shared_ptr<Runtime> runtime = w.Current();
  const ListenerConfig& listener = runtime->config().listeners[listener_index];
  const ClusterConfig& cluster = runtime->config().clusters[listener.cluster];
  ClusterMetrics& cm = runtime->cluster_metrics(listener.cluster);
  auto deadline = StartDeadline(w);
  struct Finish {
    Deadline& d;
    ~Finish() { d.Finish(); }
  } finish{*deadline};

  asio::error_code ec;
  const std::string client_ip = Lowest(client).remote_endpoint(ec).address().to_string();
  if constexpr (std::is_same_v<ClientStream, TlsStream>) {
    deadline->Arm(kHeadTimeout, &Lowest(client));
    auto [hec] = co_await client.async_handshake(asio::ssl::stream_base::server, kAwait);
    if (hec) {
      Inc(w.shared().metrics->listener[listener_index].tls_handshake_failures);
      spdlog::debug("event=tls.handshake_failed listener={} client={} error=\"{}\"", listener.name,
                    client_ip, hec.message());
      co_return;
    }
  }
  if (Read(cm.active_connections) >= cluster.max_connections) {
    Inc(cm.shed);
    co_return;  // closing the new connection at once is the L4 way of saying 503
  }
  std::optional<size_t> avoid;
  std::optional<tcp::socket> upstream;
  size_t endpoint = 0;
  // Connect failures go to a different endpoint, as many times as the cluster has endpoints.
  for (size_t attempt = 0; attempt < std::max<size_t>(1, cluster.endpoints.size()); ++attempt) {
    const std::optional<size_t> picked = runtime->Pick(listener.cluster, HashKey(client_ip), avoid);
    if (!picked.has_value()) {
      Inc(cm.no_endpoint);
      break;
    }
    avoid = endpoint = *picked;
    auto [outcome, s] = co_await Connect(w, cluster, endpoint, *deadline);
    if (outcome == ConnectOutcome::kOk) {
      runtime->ReportOutcome(listener.cluster, endpoint, RequestOutcome::kSuccess);
      upstream = std::move(s);
      break;
    }
    Inc(cm.connect_failures);
    runtime->ReportOutcome(listener.cluster, endpoint, RequestOutcome::kConnectFailure);
    if (attempt > 0) Inc(cm.retries);
  }
  if (!upstream.has_value()) {
    spdlog::warn("event=tcp.upstream_failed listener={} cluster={}", listener.name, cluster.name);
    co_return;
  }
  Inc(cm.active_connections);
  runtime->BeginRequest(listener.cluster, endpoint);
  // One deadline for both directions: traffic either way keeps the connection alive; when it
  // passes, both sockets close and both pumps end.
  deadline->Arm(listener.idle_timeout, &Lowest(client), &*upstream);
  using namespace asio::experimental::awaitable_operators;
  co_await (Pump(client, *upstream, *deadline, listener.idle_timeout) &&
            Pump(*upstream, client, *deadline, listener.idle_timeout));
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
