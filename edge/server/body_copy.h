// Copies a message body from one stream to another by its framing (RFC 9112 section 6): a
// Content-Length, chunked (checked chunk by chunk, never forwarded past an error), or until the
// source closes.
#ifndef HOLDFAST_EDGE_SERVER_BODY_COPY_H_
#define HOLDFAST_EDGE_SERVER_BODY_COPY_H_

#include <algorithm>
#include <asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "edge/http/parser.h"
#include "edge/server/byte_buffer.h"
#include "edge/server/stream_io.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {

// How a copy ended. `buffered` (the copies' argument) keeps whatever follows the body.
struct BodyCopy {
  bool ok = true;
  bool from_failed = false;  // the source closed or failed (as opposed to the destination)
  bool malformed = false;    // the source sent a body that breaks its framing
  uint64_t bytes = 0;        // written to the destination
};

// `length` bytes, of which `buffered` may hold some already.
template <typename From, typename To>
asio::awaitable<BodyCopy> CopyLength(From& from, ByteBuffer& buffered, uint64_t length, To& to) {
  BodyCopy copied;
  while (length > 0) {
    if (buffered.empty()) {
      auto [ec, n] = co_await ReadSome(from, buffered, kReadChunk);
      if (ec || n == 0) {
        copied.ok = false;
        copied.from_failed = true;
        co_return copied;
      }
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(length, buffered.size()));
    if (co_await WriteAll(to, buffered.view().substr(0, take))) {
      copied.ok = false;
      co_return copied;
    }
    buffered.Consume(take);
    length -= take;
    copied.bytes += take;
  }
  co_return copied;
}

// Chunked: forwards exactly the chunks the decoder checked and the trailer fields it let
// through, or (dechunk) only the payload.
template <typename From, typename To>
asio::awaitable<BodyCopy> CopyChunked(From& from, ByteBuffer& buffered, To& to, bool dechunk) {
  http::ChunkedDecoder decoder;
  std::string payload;
  BodyCopy copied;
  for (;;) {
    if (buffered.empty()) {
      auto [ec, n] = co_await ReadSome(from, buffered, kReadChunk);
      if (ec || n == 0) {
        copied.ok = false;
        copied.from_failed = true;
        co_return copied;
      }
    }
    payload.clear();
    const auto r = decoder.Feed(buffered.view(), dechunk ? &payload : nullptr);
    if (r.error) {
      copied.ok = false;
      copied.from_failed = copied.malformed = true;
      co_return copied;
    }
    const std::string_view out =
        dechunk ? std::string_view(payload) : buffered.view().substr(0, r.forward);
    const std::string_view trailers = r.done && !dechunk ? decoder.trailers() : "";
    if (!out.empty() || !trailers.empty()) {
      if (co_await WriteAll(to, out, trailers)) {
        copied.ok = false;
        co_return copied;
      }
      copied.bytes += out.size() + trailers.size();
    }
    buffered.Consume(r.consumed);
    if (r.done) {
      if (decoder.dropped_trailers() > 0) {
        spdlog::debug("event=http.trailers_dropped count={} reason=\"{}\"",
                      decoder.dropped_trailers(), "fields that must not be sent as trailers");
      }
      co_return copied;
    }
  }
}

// Until the source closes (a response without framing, RFC 9112 section 6.3 rule 8).
template <typename From, typename To>
asio::awaitable<BodyCopy> CopyUntilClose(From& from, ByteBuffer& buffered, To& to) {
  BodyCopy copied;
  for (;;) {
    if (!buffered.empty()) {
      if (co_await WriteAll(to, buffered.view())) {
        copied.ok = false;
        co_return copied;
      }
      copied.bytes += buffered.size();
      buffered.Clear();
    }
    auto [ec, n] = co_await ReadSome(from, buffered, kReadChunk);
    if (ec == asio::error::eof || (!ec && n == 0)) co_return copied;
    if (ec) {
      copied.ok = false;
      copied.from_failed = true;
      co_return copied;
    }
  }
}

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_BODY_COPY_H_
