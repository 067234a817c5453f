// Reads and writes on a client or backend stream, plain TCP or TLS, as the proxy's coroutines
// use them: appends into a ByteBuffer, whole writes, a graceful close.
#ifndef HOLDFAST_EDGE_SERVER_STREAM_IO_H_
#define HOLDFAST_EDGE_SERVER_STREAM_IO_H_

#include <array>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/write.hpp>
#include <cstddef>
#include <span>
#include <string_view>
#include <utility>

#include "absl/time/time.h"
#include "common/net/await.h"
#include "edge/server/byte_buffer.h"
#include "edge/server/deadline.h"
#include "edge/server/metrics.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {

using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

// Bodies stream through in reads of this size.
inline constexpr size_t kReadChunk = 16 * 1024;

// The TCP socket under a stream: what deadlines cancel and addresses come from.
inline asio::ip::tcp::socket& Lowest(asio::ip::tcp::socket& s) { return s; }
inline asio::ip::tcp::socket& Lowest(TlsStream& s) { return s.next_layer(); }

// Appends what the stream has to `buf`, reading at most `want` bytes or what `buf` has room for.
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

// A head and the body bytes that came with it, in one write (one syscall for most messages).
template <typename Stream>
asio::awaitable<asio::error_code> WriteAll(Stream& s, std::string_view head,
                                           std::string_view body) {
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head.data(), head.size()),
                                                     asio::buffer(body.data(), body.size())};
  auto [ec, n] = co_await asio::async_write(s, buffers, kAwait);
  co_return ec;
}

// Ends a connection the edge decided to close: FIN after the last byte (plain), or a TLS
// close_notify first, waiting for the peer's at most one second.
inline asio::awaitable<void> CloseGracefully(asio::ip::tcp::socket& s, Deadline&) {
  asio::error_code ignored;
  s.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  co_return;
}
inline asio::awaitable<void> CloseGracefully(TlsStream& s, Deadline& deadline) {
  deadline.Arm(absl::Seconds(1), &s.next_layer());
  co_await s.async_shutdown(kAwait);
  asio::error_code ignored;
  s.next_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

// From the first byte of a request head to its end, and for a TLS handshake: a client dripping
// bytes (slowloris) is cut off here, however often it sends one.
inline constexpr absl::Duration kHeadTimeout = absl::Seconds(10);

// A client connection's TLS handshake, within kHeadTimeout; a plain one has none. False when it
// failed: counted in the listener's metrics, logged at debug (clients fail handshakes all day).
inline asio::awaitable<bool> Handshake(asio::ip::tcp::socket&, Deadline&, ListenerMetrics&,
                                       std::string_view, std::string_view) {
  co_return true;
}
inline asio::awaitable<bool> Handshake(TlsStream& s, Deadline& deadline, ListenerMetrics& metrics,
                                       std::string_view listener, std::string_view client) {
  deadline.Arm(kHeadTimeout, &s.next_layer());
  auto [ec] = co_await s.async_handshake(asio::ssl::stream_base::server, kAwait);
  if (!ec) co_return true;
  Inc(metrics.tls_handshake_failures);
  spdlog::debug("event=tls.handshake_failed listener={} client={} error=\"{}\"", listener, client,
                ec.message());
  co_return false;
}

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_STREAM_IO_H_
