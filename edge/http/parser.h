// The edge's HTTP/1.1 message parser (RFC 9110, RFC 9112): request heads from clients, response
// heads from backends, and chunked bodies in both directions.
//
// Strict on purpose. A proxy that reads a message one way while the backend reads it another is
// open to request smuggling, so every message whose framing could be read two ways is refused,
// never repaired: both Content-Length and Transfer-Encoding, more than one Content-Length, a
// Transfer-Encoding other than "chunked" alone, a bad chunk size, obs-fold, a bare CR or a bare
// LF, whitespace between a field name and its colon, control characters, a missing or repeated
// Host. Each refusal says which HTTP status to answer (400, 414, 431, 501, 505) and why.
//
// Pure: no I/O and no allocation beyond the header vector. The parsed heads hold string_views
// into the caller's buffer, valid while that buffer is unchanged. Not thread-safe; use one parser
// per connection.
#ifndef HOLDFAST_EDGE_HTTP_PARSER_H_
#define HOLDFAST_EDGE_HTTP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace holdfast::edge::http {

struct Limits {
  // Request or status line plus every header field, CRLFs included.
  size_t max_head_bytes = size_t{32} * 1024;
  // Request target; longer is 414.
  size_t max_target_bytes = size_t{8} * 1024;
  // Header fields; more is 431.
  size_t max_headers = 100;
};

struct Header {
  std::string_view name;   // as received; compare case-insensitively
  std::string_view value;  // without leading and trailing whitespace
};

// How the body that follows a head is delimited (RFC 9112 section 6.3).
enum class BodyFraming : uint8_t {
  kNone,        // no body
  kLength,      // exactly content_length bytes
  kChunked,     // chunked transfer coding; feed it to a ChunkedDecoder
  kUntilClose,  // responses only: everything until the backend closes
};

struct RequestHead {
  std::string_view method;
  std::string_view target;
  int minor_version = 1;  // HTTP/1.0 or HTTP/1.1
  std::vector<Header> headers;
  // The Host field (may carry a port); empty only for HTTP/1.0 requests without one.
  std::string_view host;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  // The connection may carry another request after this one (version default, then Connection).
  bool keep_alive = true;
  bool expect_continue = false;

  // The first header of that name (case-insensitive), or empty.
  std::string_view Find(std::string_view name) const;
};

struct ResponseHead {
  int minor_version = 1;
  int status = 0;
  std::string_view reason;
  std::vector<Header> headers;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  bool keep_alive = true;

  std::string_view Find(std::string_view name) const;
};

namespace internal {
// Where the search for the end of a head stands, so bytes are scanned once.
struct HeadScan {
  size_t start = 0;       // first byte of the start line (after skipped empty lines)
  size_t line_start = 0;  // first byte of the line being scanned
  size_t scanned = 0;     // bytes already searched for LF
  bool first_line_done = false;
};
}  // namespace internal

enum class ParseStatus : uint8_t { kIncomplete, kComplete, kInvalid };

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  // kComplete: bytes of the head, the body starts after them.
  size_t head_bytes = 0;
  // kInvalid: the status to answer with (for a response head: the backend misbehaved, 502) and
  // a short reason for logs and the error page.
  int http_status = 0;
  std::string_view error;
};

// Parses a request head from the start of `buffer`. Call again with the same buffer, grown,
// while it returns kIncomplete: already scanned bytes are not scanned again, so a client
// dripping bytes costs linear time. Reset() before the next request on the connection.
class RequestParser {
 public:
  explicit RequestParser(const Limits& limits = {}) : limits_(limits) {}

  [[nodiscard]] ParseResult Parse(std::string_view buffer, RequestHead& out);
  void Reset() { scan_ = {}; }

 private:
  Limits limits_;
  internal::HeadScan scan_;
};

// Parses a response head. `request_method` decides whether a body follows (none after HEAD,
// nor for 1xx, 204 and 304: RFC 9112 section 6.3). Interim 1xx responses other than 101 come
// back as complete heads of their own; the caller forwards them and parses again.
class ResponseParser {
 public:
  explicit ResponseParser(const Limits& limits = {}) : limits_(limits) {}

  [[nodiscard]] ParseResult Parse(std::string_view buffer, std::string_view request_method,
                                  ResponseHead& out);
  void Reset() { scan_ = {}; }

 private:
  Limits limits_;
  internal::HeadScan scan_;
};

// Validates a chunked body (RFC 9112 section 7.1) as it streams by. Feed() consumes as many bytes
// as it can; the proxy forwards the chunks' bytes unchanged (`forward` of each result), so what
// the next hop reads is what was checked here, and then trailers() in place of the trailer
// section it consumed. Chunk extensions are checked and passed through; trailer fields are
// checked, and those that must not be sent as trailers are left out of trailers().
class ChunkedDecoder {
 public:
  struct Result {
    size_t consumed = 0;
    // The first `forward` bytes of those consumed are chunks, to pass on as they are; the rest
    // were trailer fields, passed on through trailers().
    size_t forward = 0;
    bool done = false;  // the last chunk and the trailer section are complete
    bool error = false;
    std::string_view reason;
  };

  explicit ChunkedDecoder(const Limits& limits = {}) : limits_(limits) {}

  // `data`, when given, receives the decoded payload (tests, fuzzing, health-check bodies).
  [[nodiscard]] Result Feed(std::string_view in, std::string* data = nullptr);
  uint64_t payload_bytes() const { return payload_bytes_; }
  // Once done: the trailer section to send on, the final CRLF included. RFC 9110 section 6.5.1:
  // fields that frame the message (Content-Length, Transfer-Encoding), route it (Host) or
  // describe the connection (Connection and the fields it may name) must not be sent as
  // trailers, so a sender that put them there does not get them past the edge to a recipient
  // that might read them as if they were in the header section.
  std::string_view trailers() const { return trailers_; }
  // Trailer fields left out of trailers(), so far.
  size_t dropped_trailers() const { return dropped_trailers_; }

 private:
  enum class State : uint8_t { kSize, kData, kDataCrlf, kTrailer, kDone, kError };

  Result Fail(size_t consumed, std::string_view reason);

  Limits limits_;
  State state_ = State::kSize;
  std::string line_;        // the size line or trailer field being collected
  uint64_t remaining_ = 0;  // payload bytes left in the current chunk
  uint64_t payload_bytes_ = 0;
  size_t trailer_bytes_ = 0;
  size_t trailer_fields_ = 0;
  std::string trailers_;
  size_t dropped_trailers_ = 0;
};

// The options every Connection field of `headers` lists (RFC 9110 section 7.6.1), trimmed, in
// order; `out` is cleared first. A proxy drops the fields they name.
void ConnectionOptions(const std::vector<Header>& headers, std::vector<std::string_view>& out);

// Field-name tokens (RFC 9110 section 5.6.2) and case-insensitive comparison, shared by the
// proxy when it rewrites heads.
bool IsToken(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace holdfast::edge::http

#endif  // HOLDFAST_EDGE_HTTP_PARSER_H_
