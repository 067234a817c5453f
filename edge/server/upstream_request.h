// One attempt of a request against one endpoint of its cluster: a pooled or new connection,
// the request (head and body) sent, the response (interim ones, head and body) relayed to the
// client, the connection pooled again when it can carry another request. Envoy's upstream
// request; the decisions it meets on the way (what is retried, what outlier detection hears)
// are the router's (router.h).
#ifndef HOLDFAST_EDGE_SERVER_UPSTREAM_REQUEST_H_
#define HOLDFAST_EDGE_SERVER_UPSTREAM_REQUEST_H_

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edge/http/parser.h"
#include "edge/server/byte_buffer.h"
#include "edge/server/deadline.h"
#include "edge/server/local_reply.h"
#include "edge/server/router.h"
#include "edge/server/stream_io.h"

namespace holdfast::edge {

class Worker;
class Runtime;
struct ClusterMetrics;

// What an attempt borrows of its client connection.
template <typename ClientStream>
struct Downstream {
  ClientStream& client;
  // What the client sent after the head: the start of the body, and what follows it.
  ByteBuffer& in;
  // Its views point into `in` and go stale once the body is read: an attempt reads only its
  // framing, version and expectation then.
  const http::RequestHead& head;
  std::string_view method;
  Deadline& deadline;
  // Whether the client connection carries another request after this one; an attempt clears
  // it when the response cannot end cleanly (read until close, half sent, draining).
  bool& keep_alive;
};

// How an attempt ended.
struct AttemptResult {
  // The status forwarded to the client; 0 when none was.
  int status = 0;
  // With status 0: why the endpoint gave nothing (the router decides whether to try again);
  // kNone when the client went away.
  UpstreamFailure failure = UpstreamFailure::kNone;
  // The client is to be answered this, not what `failure` would give, and the connection
  // closed: a malformed request body, an upgrade the edge does not proxy.
  std::optional<LocalReply> reply;
  // Of a forwarded response that did not end cleanly: UC, UT or DC; kNone otherwise.
  ResponseFlag flag = ResponseFlag::kNone;
  // When the backend's (final) response head arrived; nullopt when none did.
  std::optional<std::chrono::steady_clock::time_point> response_head_at;
  // Body bytes from the client to the backend, and from the backend to the client.
  uint64_t request_body_bytes = 0;
  uint64_t response_body_bytes = 0;
};

template <typename ClientStream>
class UpstreamRequest {
 public:
  // `upstream_buf` is the connection's buffer for the backend's bytes, kept across requests.
  UpstreamRequest(Worker& worker, Runtime& runtime, Downstream<ClientStream> downstream,
                  ByteBuffer& upstream_buf)
      : w_(worker), runtime_(runtime), down_(downstream), up_(upstream_buf) {}

  // Attempt `attempt` (from 0) of `plan` against endpoint `endpoint`, sending `upstream_head`
  // (forwarded_heads.h) and the body.
  asio::awaitable<AttemptResult> Run(const RoutePlan& plan, uint32_t attempt, size_t endpoint,
                                     const std::string& upstream_head);

 private:
  // Sends the request on `upstream` and relays the response into `result`.
  asio::awaitable<void> Forward(const RoutePlan& plan, uint32_t attempt, ClusterMetrics& cm,
                                asio::ip::tcp::socket& upstream, const std::string& upstream_head,
                                AttemptResult& result);
  asio::awaitable<bool> SendRequest(const RoutePlan& plan, asio::ip::tcp::socket& upstream,
                                    const std::string& upstream_head, AttemptResult& result);
  // Reads the response head, passing interim 1xx responses on. False: `result` says why not.
  asio::awaitable<bool> ReadResponseHead(const RoutePlan& plan, ClusterMetrics& cm,
                                         asio::ip::tcp::socket& upstream,
                                         http::ResponseHead& response, size_t& head_bytes,
                                         AttemptResult& result);
  asio::awaitable<void> RelayResponse(const RoutePlan& plan, ClusterMetrics& cm,
                                      asio::ip::tcp::socket& upstream,
                                      const http::ResponseHead& response, size_t head_bytes,
                                      AttemptResult& result);

  Worker& w_;
  Runtime& runtime_;
  Downstream<ClientStream> down_;
  ByteBuffer& up_;
  // Some byte of the request went out on the upstream connection.
  bool request_sent_ = false;
  // The upstream connection can carry another request.
  bool reusable_ = false;
};

extern template class UpstreamRequest<asio::ip::tcp::socket>;
extern template class UpstreamRequest<TlsStream>;

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_UPSTREAM_REQUEST_H_
