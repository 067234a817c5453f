#include "edge/http/parser.h"

#include <algorithm>
#include <cstring>

namespace holdfast::edge::http {
namespace {

// The longest size line (size and extensions) of a chunk; more is refused, not buffered.
constexpr size_t kMaxChunkLine = 4096;
// 15 hex digits keep a chunk size below 2^60, far from overflow when added up.
constexpr size_t kMaxChunkSizeDigits = 15;
// 18 decimal digits stay below 2^63.
constexpr size_t kMaxLengthDigits = 18;

// RFC 9110 section 5.6.2: tchar.
constexpr bool IsTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

constexpr bool IsWs(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 section 5.5: field-value characters are VCHAR, obs-text, SP and HTAB; every other
// control character (NUL, CR, LF, DEL, ...) is refused.
constexpr bool IsFieldValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view TrimWs(std::string_view s) {
  while (!s.empty() && IsWs(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWs(s.back())) s.remove_suffix(1);
  return s;
}

ParseResult Invalid(int status, std::string_view reason) {
  return ParseResult{ParseStatus::kInvalid, 0, status, reason};
}

// Finds the end of the head: the empty line. Every line must end in CRLF (a bare LF is refused:
// some servers end lines at LF alone and some do not, which is how smuggling starts). Returns
// kComplete with head_bytes, kIncomplete, or kInvalid.
// `request`: RFC 9112 section 2.2 lets a server skip empty lines before a request line, and a
// request line too long is 414, a head too large 431.
ParseResult ScanHead(std::string_view buf, internal::HeadScan& scan, const Limits& limits,
                     bool request) {
  const int too_large_status = request ? 431 : 502;
  if (request && !scan.first_line_done) {
    while (scan.start + 1 < buf.size() && buf[scan.start] == '\r' && buf[scan.start + 1] == '\n') {
      scan.start += 2;
    }
    if (scan.start > limits.max_head_bytes) return Invalid(400, "too many empty lines");
    if (scan.line_start < scan.start) scan.line_start = scan.scanned = scan.start;
    if (scan.start < buf.size() && buf[scan.start] == '\r' && scan.start + 1 == buf.size()) {
      return ParseResult{};  // maybe the CR of one more empty line
    }
  }
  while (scan.scanned < buf.size()) {
    const void* lf = std::memchr(buf.data() + scan.scanned, '\n', buf.size() - scan.scanned);
    if (lf == nullptr) {
      scan.scanned = buf.size();
      break;
    }
    const size_t at = static_cast<size_t>(static_cast<const char*>(lf) - buf.data());
    scan.scanned = at + 1;
    if (at == 0 || buf[at - 1] != '\r') return Invalid(400, "line ends in a bare LF");
    const bool empty_line = at - 1 == scan.line_start;
    if (empty_line && scan.first_line_done) {
      if (at + 1 - scan.start > limits.max_head_bytes) {
        return Invalid(too_large_status, "header section too large");
      }
      return ParseResult{ParseStatus::kComplete, at + 1, 0, {}};
    }
    if (empty_line) return Invalid(400, "empty start line");
    if (request && !scan.first_line_done && at + 1 - scan.start > limits.max_target_bytes + 64) {
      return Invalid(414, "request line too long");
    }
    scan.first_line_done = true;
    scan.line_start = at + 1;
  }
  if (buf.size() - scan.start > limits.max_head_bytes) {
    if (request && !scan.first_line_done) {
      return Invalid(414, "request line too long");
    }
    return Invalid(too_large_status, "header section too large");
  }
  return ParseResult{};
}

// Splits the head into lines (without their CRLF); the last empty line is not included.
// A CR anywhere inside a line is a bare CR.
bool NextLine(std::string_view& head, std::string_view& line) {
  const size_t lf = head.find('\n');
  if (lf == std::string_view::npos) return false;
  line = head.substr(0, lf - 1);  // ScanHead made sure of the CR before every LF
  head.remove_prefix(lf + 1);
  return true;
}

// One field line, "name: value" (RFC 9112 section 5). Returns an error reason, or empty.
std::string_view ParseFieldLine(std::string_view line, Header& out) {
  if (!line.empty() && IsWs(line.front())) {
    return "obsolete line folding";  // RFC 9112 section 5.2: refuse with 400
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return "header line without a colon";
  const std::string_view name = line.substr(0, colon);
  if (name.empty()) return "empty header name";
  if (IsWs(name.back())) {
    return "whitespace between header name and colon";  // RFC 9112 section 5.1: MUST reject
  }
  if (!IsToken(name)) return "invalid character in header name";
  const std::string_view value = TrimWs(line.substr(colon + 1));
  for (const char c : value) {
    if (c == '\r') return "bare CR";
    if (!IsFieldValueChar(static_cast<unsigned char>(c))) {
      return "control character in header value";
    }
  }
  out.name = name;
  out.value = value;
  return {};
}

// Content-Length: 1*DIGIT (RFC 9110 section 8.6). A list ("5, 5") is refused too.
bool ParseLength(std::string_view v, uint64_t& out) {
  if (v.empty() || v.size() > kMaxLengthDigits) return false;
  uint64_t n = 0;
  for (const char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  out = n;
  return true;
}

// Calls f(token) for each comma-separated element of a list field, trimmed, skipping empties.
template <typename F>
void ForEachListElement(std::string_view v, F f) {
  while (!v.empty()) {
    const size_t comma = v.find(',');
    const std::string_view element = TrimWs(v.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

// Host: uri-host [ ":" port ] (RFC 9110 section 7.2); the characters of reg-name, IP-literal
// and port. Anything else (spaces, "/", "@", controls) would be read differently downstream.
// Whether the path of a target (up to its query) has a "." or ".." segment, also spelled with
// percent-encoded dots or with an encoded '/' or '\\' as the separator ("..%2f", "%2e%2e%5c").
// Clients resolve dot segments before they send a request (RFC 3986 section 5.2.4); one that
// arrives anyway is meant for a backend that resolves it after the edge routed on the prefix it
// climbs out of. Refused, not normalized: no conforming client is turned away by it.
bool HasDotSegment(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  size_t dots = 0;        // decoded dots in the segment so far
  bool only_dots = true;  // the segment so far is dots alone
  for (size_t i = 0; i <= path.size(); ++i) {
    char c = i < path.size() ? path[i] : '/';
    if (c == '%' && i + 2 < path.size()) {
      const char hi = path[i + 1];
      const char lo = Lower(path[i + 2]);
      if (hi == '2' && lo == 'e') {
        c = '.';
        i += 2;
      } else if ((hi == '2' && lo == 'f') || (hi == '5' && lo == 'c')) {
        c = '/';
        i += 2;
      }
    }
    if (c == '/' || c == '\\') {
      if (only_dots && (dots == 1 || dots == 2)) return true;
      dots = 0;
      only_dots = true;
    } else if (c == '.') {
      ++dots;
    } else {
      only_dots = false;
    }
  }
  return false;
}

bool IsValidHost(std::string_view h) {
  for (const char c : h) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    std::strchr("-._~!$&'()*+,;=:%[]", c) != nullptr;
    if (!ok || u == 0) return false;
  }
  return true;
}

// "HTTP/1.1" -> 1, "HTTP/1.0" -> 0, later 1.x -> 1 (RFC 9110 section 6.2: answer as 1.1).
// Returns -1 for a malformed version, -2 for another major version.
int ParseVersion(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
      v[7] < '0' || v[7] > '9') {
    return -1;
  }
  if (v[5] != '1') return -2;
  return v[7] == '0' ? 0 : 1;
}

// What the framing fields of one message say, gathered while its fields are read.
struct Framing {
  int content_lengths = 0;
  int transfer_encodings = 0;
  bool chunked = false;
  bool unknown_coding = false;
  bool bad_length = false;
  uint64_t length = 0;
  bool conn_close = false;
  bool conn_keep_alive = false;

  void Add(const Header& h) {
    if (EqualsIgnoreCase(h.name, "content-length")) {
      ++content_lengths;
      if (!ParseLength(h.value, length)) bad_length = true;
    } else if (EqualsIgnoreCase(h.name, "transfer-encoding")) {
      ++transfer_encodings;
      // Only "chunked" alone: RFC 9112 section 6.1 puts chunked last, and holdfast applies no
      // other coding, so anything else cannot be framed the way the backend would frame it.
      if (EqualsIgnoreCase(h.value, "chunked")) {
        chunked = true;
      } else {
        unknown_coding = true;
      }
    } else if (EqualsIgnoreCase(h.name, "connection")) {
      ForEachListElement(h.value, [this](std::string_view t) {
        if (EqualsIgnoreCase(t, "close")) conn_close = true;
        if (EqualsIgnoreCase(t, "keep-alive")) conn_keep_alive = true;
      });
    }
  }

  bool KeepAlive(int minor_version) const {
    if (conn_close) return false;
    return minor_version >= 1 || conn_keep_alive;
  }
};

// Reads the field lines after the start line into `headers`. Returns an error reason or empty.
std::string_view ParseFields(std::string_view rest, const Limits& limits,
                             std::vector<Header>& headers, Framing& framing, bool& too_many) {
  std::string_view line;
  while (NextLine(rest, line)) {
    if (line.empty()) break;
    if (headers.size() == limits.max_headers) {
      too_many = true;
      return "too many header fields";
    }
    if (line.find('\r') != std::string_view::npos) return "bare CR";
    Header h;
    if (const std::string_view err = ParseFieldLine(line, h); !err.empty()) return err;
    framing.Add(h);
    headers.push_back(h);
  }
  return {};
}

std::string_view FindHeader(const std::vector<Header>& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return {};
}

}  // namespace

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!IsTchar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

void ConnectionOptions(const std::vector<Header>& headers, std::vector<std::string_view>& out) {
  out.clear();
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.name, "connection")) {
      ForEachListElement(h.value, [&out](std::string_view t) { out.push_back(t); });
    }
  }
}

std::string_view RequestHead::Find(std::string_view name) const {
  return FindHeader(headers, name);
}

std::string_view ResponseHead::Find(std::string_view name) const {
  return FindHeader(headers, name);
}

ParseResult RequestParser::Parse(std::string_view buffer, RequestHead& out) {
  const ParseResult scanned = ScanHead(buffer, scan_, limits_, /*request=*/true);
  if (scanned.status != ParseStatus::kComplete) return scanned;

  std::string_view rest = buffer.substr(scan_.start, scanned.head_bytes - scan_.start);
  std::string_view line;
  NextLine(rest, line);
  if (line.find('\r') != std::string_view::npos) return Invalid(400, "bare CR");

  // request-line = method SP request-target SP HTTP-version (RFC 9112 section 3), one SP each.
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Invalid(400, "malformed request line");
  }
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!IsToken(out.method)) return Invalid(400, "invalid method");
  if (out.target.empty()) return Invalid(400, "empty request target");
  if (out.target.size() > limits_.max_target_bytes) return Invalid(414, "request target too long");
  for (const char c : out.target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return Invalid(400, "invalid character in request target");
    // RFC 9112 section 3.2: no form of request-target has a fragment; a '#' is a client's bug
    // or a probe for a router that matches on less than the backend reads (CVE-2023-45539).
    if (c == '#') return Invalid(400, "fragment in request target");
    // RFC 3986 has no backslash in a URI, and some backends read it as '/': "\..\" would climb
    // out of the prefix the edge routed on.
    if (c == '\\') return Invalid(400, "backslash in request target");
  }
  const int minor = ParseVersion(line.substr(sp2 + 1));
  if (minor == -1) return Invalid(400, "malformed HTTP version");
  if (minor == -2) return Invalid(505, "HTTP version not supported");
  out.minor_version = minor;

  if (out.method == "CONNECT") return Invalid(501, "CONNECT is not supported");
  std::string_view target_authority;
  if (out.target.front() == '/') {
    // origin-form
    if (HasDotSegment(out.target)) return Invalid(400, "dot segment in request target");
  } else if (out.target == "*") {
    if (out.method != "OPTIONS") return Invalid(400, "asterisk target outside OPTIONS");
  } else {
    // absolute-form (RFC 9112 section 3.2.2): its authority replaces the Host field.
    const size_t scheme_end = out.target.find("://");
    if (scheme_end == std::string_view::npos || !IsToken(out.target.substr(0, scheme_end))) {
      return Invalid(400, "malformed request target");
    }
    const std::string_view after = out.target.substr(scheme_end + 3);
    target_authority = after.substr(0, after.find_first_of("/?#"));
    if (target_authority.empty() || !IsValidHost(target_authority) ||
        target_authority.find('@') != std::string_view::npos) {
      return Invalid(400, "malformed authority in request target");
    }
    if (HasDotSegment(after.substr(target_authority.size()))) {
      return Invalid(400, "dot segment in request target");
    }
  }

  out.headers.clear();
  Framing framing;
  bool too_many = false;
  if (const std::string_view err = ParseFields(rest, limits_, out.headers, framing, too_many);
      !err.empty()) {
    return Invalid(too_many ? 431 : 400, err);
  }

  // Host: exactly one in HTTP/1.1, at most one in 1.0 (RFC 9112 section 3.2).
  int hosts = 0;
  out.host = {};
  for (const Header& h : out.headers) {
    if (EqualsIgnoreCase(h.name, "host")) {
      ++hosts;
      out.host = h.value;
    }
  }
  if (hosts > 1) return Invalid(400, "more than one Host");
  if (hosts == 0 && minor == 1) return Invalid(400, "missing Host");
  if (!IsValidHost(out.host)) return Invalid(400, "invalid Host");
  if (!target_authority.empty()) out.host = target_authority;

  // Framing (RFC 9112 section 6): every combination that two parsers could read differently is
  // refused here rather than forwarded.
  if (framing.content_lengths > 1) return Invalid(400, "more than one Content-Length");
  if (framing.bad_length) return Invalid(400, "invalid Content-Length");
  if (framing.transfer_encodings > 0) {
    if (framing.content_lengths > 0) {
      return Invalid(400, "both Content-Length and Transfer-Encoding");
    }
    if (minor == 0) return Invalid(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (framing.transfer_encodings > 1) return Invalid(400, "more than one Transfer-Encoding");
    if (framing.unknown_coding) return Invalid(501, "transfer coding not supported");
    out.framing = BodyFraming::kChunked;
    out.content_length = 0;
  } else if (framing.content_lengths == 1 && framing.length > 0) {
    out.framing = BodyFraming::kLength;
    out.content_length = framing.length;
  } else {
    out.framing = BodyFraming::kNone;
    out.content_length = 0;
  }
  out.keep_alive = framing.KeepAlive(minor);
  out.expect_continue = minor == 1 && EqualsIgnoreCase(out.Find("expect"), "100-continue");
  return scanned;
}

ParseResult ResponseParser::Parse(std::string_view buffer, std::string_view request_method,
                                  ResponseHead& out) {
  const ParseResult scanned = ScanHead(buffer, scan_, limits_, /*request=*/false);
  if (scanned.status != ParseStatus::kComplete) {
    if (scanned.status == ParseStatus::kInvalid) return Invalid(502, scanned.error);
    return scanned;
  }
  std::string_view rest = buffer.substr(0, scanned.head_bytes);
  std::string_view line;
  NextLine(rest, line);
  if (line.find('\r') != std::string_view::npos) return Invalid(502, "bare CR in status line");

  // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 section 4); a
  // missing SP after the code is tolerated, as RFC 9112 asks of recipients.
  if (line.size() < 12 || line[8] != ' ') return Invalid(502, "malformed status line");
  const int minor = ParseVersion(line.substr(0, 8));
  if (minor < 0) return Invalid(502, "unsupported HTTP version from backend");
  const std::string_view code = line.substr(9, 3);
  int status = 0;
  for (const char c : code) {
    if (c < '0' || c > '9') return Invalid(502, "malformed status code");
    status = status * 10 + (c - '0');
  }
  if (status < 100) return Invalid(502, "malformed status code");
  std::string_view reason;
  if (line.size() > 12) {
    if (line[12] != ' ') return Invalid(502, "malformed status line");
    reason = line.substr(13);
    for (const char c : reason) {
      if (!IsFieldValueChar(static_cast<unsigned char>(c))) {
        return Invalid(502, "control character in reason phrase");
      }
    }
  }
  out.minor_version = minor;
  out.status = status;
  out.reason = reason;

  out.headers.clear();
  Framing framing;
  bool too_many = false;
  if (const std::string_view err = ParseFields(rest, limits_, out.headers, framing, too_many);
      !err.empty()) {
    return Invalid(502, err);
  }
  out.keep_alive = framing.KeepAlive(minor);
  out.content_length = 0;

  // RFC 9112 section 6.3, in its order.
  if (request_method == "HEAD" || (status >= 100 && status < 200) || status == 204 ||
      status == 304) {
    out.framing = BodyFraming::kNone;
    return scanned;
  }
  if (framing.transfer_encodings > 0) {
    // Allowed by the RFC (chunked wins, then close), but a backend that sends both is confused
    // or compromised; holdfast does not guess.
    if (framing.content_lengths > 0) {
      return Invalid(502, "both Content-Length and Transfer-Encoding");
    }
    if (framing.transfer_encodings > 1 || framing.unknown_coding) {
      return Invalid(502, "transfer coding not supported");
    }
    out.framing = BodyFraming::kChunked;
    return scanned;
  }
  if (framing.content_lengths > 1) return Invalid(502, "more than one Content-Length");
  if (framing.bad_length) return Invalid(502, "invalid Content-Length");
  if (framing.content_lengths == 1) {
    out.framing = framing.length > 0 ? BodyFraming::kLength : BodyFraming::kNone;
    out.content_length = framing.length;
    return scanned;
  }
  out.framing = BodyFraming::kUntilClose;
  out.keep_alive = false;
  return scanned;
}

namespace {

bool IsForbiddenTrailer(std::string_view name) {
  static constexpr std::string_view kFields[] = {
      "content-length", "transfer-encoding", "host", "connection", "keep-alive", "te", "trailer",
      "upgrade",        "proxy-connection"};
  for (const std::string_view f : kFields) {
    if (EqualsIgnoreCase(name, f)) return true;
  }
  return false;
}

}  // namespace

ChunkedDecoder::Result ChunkedDecoder::Fail(size_t consumed, std::string_view reason) {
  state_ = State::kError;
  return Result{consumed, 0, false, true, reason};
}

ChunkedDecoder::Result ChunkedDecoder::Feed(std::string_view in, std::string* data) {
  size_t i = 0;
  // Bytes up to here are chunks (forwarded as they are); after it, the trailer section.
  size_t forward = 0;
  while (i < in.size()) {
    if (state_ != State::kTrailer) forward = i;
    switch (state_) {
      case State::kSize:
      case State::kTrailer: {
        const char c = in[i++];
        if (c != '\n') {
          line_.push_back(c);
          if (state_ == State::kSize && line_.size() > kMaxChunkLine) {
            return Fail(i, "chunk size line too long");
          }
          if (state_ == State::kTrailer && trailer_bytes_ + line_.size() > limits_.max_head_bytes) {
            return Fail(i, "trailer section too large");
          }
          continue;
        }
        if (line_.empty() || line_.back() != '\r') return Fail(i, "bare LF in chunked body");
        line_.pop_back();
        if (line_.find('\r') != std::string::npos) return Fail(i, "bare CR in chunked body");
        if (state_ == State::kTrailer) {
          if (line_.empty()) {
            state_ = State::kDone;
            trailers_.append("\r\n");
            return Result{i, forward, true, false, {}};
          }
          Header h;
          if (const std::string_view err = ParseFieldLine(line_, h); !err.empty()) {
            return Fail(i, err);
          }
          if (++trailer_fields_ > limits_.max_headers) return Fail(i, "too many trailer fields");
          trailer_bytes_ += line_.size() + 2;
          if (IsForbiddenTrailer(h.name)) {
            ++dropped_trailers_;
          } else {
            trailers_.append(h.name).append(": ").append(h.value).append("\r\n");
          }
          line_.clear();
          continue;
        }
        // chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 section 7.1); chunk-size = 1*HEXDIG.
        const std::string_view size_line = line_;
        size_t digits = 0;
        uint64_t size = 0;
        while (digits < size_line.size()) {
          const char h = size_line[digits];
          int v;
          if (h >= '0' && h <= '9') {
            v = h - '0';
          } else if (h >= 'a' && h <= 'f') {
            v = h - 'a' + 10;
          } else if (h >= 'A' && h <= 'F') {
            v = h - 'A' + 10;
          } else {
            break;
          }
          if (++digits > kMaxChunkSizeDigits) return Fail(i, "chunk size too large");
          size = size * 16 + static_cast<uint64_t>(v);
        }
        if (digits == 0) return Fail(i, "invalid chunk size");
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] ), ext-value a token or
        // a quoted-string (RFC 9112 section 7.1.1). Checked strictly, then passed on as is.
        std::string_view ext = size_line.substr(digits);
        while (!ext.empty()) {
          ext = TrimWs(ext);
          if (ext.empty() || ext.front() != ';') return Fail(i, "invalid chunk extension");
          ext.remove_prefix(1);
          ext = TrimWs(ext);
          size_t n = 0;
          while (n < ext.size() && IsTchar(static_cast<unsigned char>(ext[n]))) ++n;
          if (n == 0) return Fail(i, "invalid chunk extension");
          ext.remove_prefix(n);
          ext = TrimWs(ext);
          if (ext.empty() || ext.front() != '=') continue;
          ext.remove_prefix(1);
          ext = TrimWs(ext);
          if (!ext.empty() && ext.front() == '"') {
            size_t q = 1;
            bool closed = false;
            while (q < ext.size()) {
              const char qc = ext[q];
              // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) (RFC 9110 section 5.6.4)
              if (qc == '\\' && q + 1 < ext.size() &&
                  IsFieldValueChar(static_cast<unsigned char>(ext[q + 1]))) {
                q += 2;
                continue;
              }
              ++q;
              if (qc == '"') {
                closed = true;
                break;
              }
              if (!IsFieldValueChar(static_cast<unsigned char>(qc))) break;
            }
            if (!closed) return Fail(i, "invalid chunk extension");
            ext.remove_prefix(q);
          } else {
            n = 0;
            while (n < ext.size() && IsTchar(static_cast<unsigned char>(ext[n]))) ++n;
            if (n == 0) return Fail(i, "invalid chunk extension");
            ext.remove_prefix(n);
          }
        }
        line_.clear();
        if (size == 0) {
          state_ = State::kTrailer;
          forward = i;  // the last chunk's line goes on as it came
        } else {
          remaining_ = size;
          state_ = State::kData;
        }
        continue;
      }
      case State::kData: {
        const size_t take = static_cast<size_t>(
            std::min<uint64_t>(remaining_, static_cast<uint64_t>(in.size() - i)));
        if (data != nullptr) data->append(in.data() + i, take);
        i += take;
        remaining_ -= take;
        payload_bytes_ += take;
        if (remaining_ == 0) state_ = State::kDataCrlf;
        continue;
      }
      case State::kDataCrlf: {
        const char c = in[i++];
        const char want = line_.empty() ? '\r' : '\n';
        if (c != want) return Fail(i, "chunk data not followed by CRLF");
        if (want == '\r') {
          line_.push_back(c);
        } else {
          line_.clear();
          state_ = State::kSize;
        }
        continue;
      }
      case State::kDone:
        return Result{i, i, true, false, {}};
      case State::kError:
        return Result{i, 0, false, true, "chunked body already failed"};
    }
  }
  if (state_ != State::kTrailer) forward = i;
  return Result{i, forward, state_ == State::kDone, state_ == State::kError, {}};
}

}  // namespace holdfast::edge::http
