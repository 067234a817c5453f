#include "edge/http/parser.h"

#include <catch2/catch.hpp>
#include <string>

namespace holdfast::edge::http {
namespace {

ParseResult ParseAll(std::string_view wire, RequestHead& head, const Limits& limits = {}) {
  RequestParser parser(limits);
  return parser.Parse(wire, head);
}

TEST_CASE("parses a GET with its fields and keeps the connection alive", "[edge][http]") {
  const std::string wire =
      "GET /a/b?c=d HTTP/1.1\r\nHost: www.example.net:8080\r\nUser-Agent:  curl/7.88 \r\n"
      "Accept: */*\r\n\r\nNEXT";
  RequestHead head;
  const ParseResult r = ParseAll(wire, head);
  REQUIRE(r.status == ParseStatus::kComplete);
  CHECK(r.head_bytes == wire.size() - 4);
  CHECK(head.method == "GET");
  CHECK(head.target == "/a/b?c=d");
  CHECK(head.minor_version == 1);
  CHECK(head.host == "www.example.net:8080");
  CHECK(head.Find("user-agent") == "curl/7.88");
  CHECK(head.headers.size() == 3);
  CHECK(head.framing == BodyFraming::kNone);
  CHECK(head.keep_alive);
}

TEST_CASE("reads body framing from Content-Length and chunked", "[edge][http]") {
  RequestHead head;
  REQUIRE(ParseAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", head).status ==
          ParseStatus::kComplete);
  CHECK(head.framing == BodyFraming::kLength);
  CHECK(head.content_length == 42);

  REQUIRE(
      ParseAll("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", head).status ==
      ParseStatus::kComplete);
  CHECK(head.framing == BodyFraming::kChunked);

  REQUIRE(ParseAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", head).status ==
          ParseStatus::kComplete);
  CHECK(head.framing == BodyFraming::kNone);
}

TEST_CASE("keep-alive follows the version and the Connection field", "[edge][http]") {
  auto keep_alive = [](std::string_view wire) {
    RequestHead head;
    REQUIRE(ParseAll(wire, head).status == ParseStatus::kComplete);
    return head.keep_alive;
  };
  CHECK(keep_alive("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  CHECK_FALSE(keep_alive("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n"));
  CHECK_FALSE(keep_alive("GET / HTTP/1.0\r\n\r\n"));
  CHECK(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

TEST_CASE("an incomplete head asks for more, whatever byte it stops at", "[edge][http]") {
  const std::string wire = "\r\nPUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  const size_t head_end = wire.size() - 3;
  RequestParser parser;
  RequestHead head;
  for (size_t n = 0; n < head_end; ++n) {
    INFO("bytes: " << n);
    REQUIRE(parser.Parse(std::string_view(wire).substr(0, n), head).status ==
            ParseStatus::kIncomplete);
  }
  const ParseResult r = parser.Parse(wire, head);
  REQUIRE(r.status == ParseStatus::kComplete);
  CHECK(r.head_bytes == head_end);
  CHECK(head.method == "PUT");
  CHECK(head.content_length == 3);
}

TEST_CASE("Connection options are gathered from every Connection field, trimmed", "[edge][http]") {
  RequestHead head;
  REQUIRE(ParseAll("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive , X-A\r\nX-A: 1\r\n"
                   "connection: ,X-B,\r\n\r\n",
                   head)
              .status == ParseStatus::kComplete);
  std::vector<std::string_view> options = {"stale"};
  ConnectionOptions(head.headers, options);
  CHECK(options == std::vector<std::string_view>{"keep-alive", "X-A", "X-B"});
}

TEST_CASE("absolute-form targets take their host from the target", "[edge][http]") {
  RequestHead head;
  REQUIRE(ParseAll("GET http://api.example.net/v1 HTTP/1.1\r\nHost: other\r\n\r\n", head).status ==
          ParseStatus::kComplete);
  CHECK(head.host == "api.example.net");
}

using namespace std::string_view_literals;

struct Refusal {
  const char* name;
  std::string_view wire;
  int status;
};

TEST_CASE("refuses smuggling vectors and malformed requests with the right status",
          "[edge][http]") {
  const Refusal c = GENERATE(values<Refusal>({
      {"both Content-Length and Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"Transfer-Encoding then Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       400},
      {"duplicate Content-Length, same value",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400},
      {"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400},
      {"signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400},
      {"huge Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"two Transfer-Encoding fields",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
       "\r\n",
       400},
      {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"unknown transfer coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
       501},
      {"chunked not alone",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"obfuscated chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
       501},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
      {"obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400},
      {"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400},
      {"bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"bare LF ending a field", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400},
      {"bare LF ending the head", "GET / HTTP/1.1\nHost: a\n\n", 400},
      {"space before the colon",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
      {"NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n"sv, 400},
      {"header without colon", "GET / HTTP/1.1\r\nHost: a\r\nbroken\r\n\r\n", 400},
      {"missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
      {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
      {"Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
      {"two spaces in the request line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501},
      {"asterisk outside OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"userinfo in an absolute target", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"non-ASCII target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"method with a slash", "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
  }));
  INFO(c.name);
  RequestHead head;
  const ParseResult r = ParseAll(c.wire, head);
  REQUIRE(r.status == ParseStatus::kInvalid);
  CHECK(r.http_status == c.status);
  CHECK_FALSE(r.error.empty());
}

TEST_CASE("limits answer 414 for a long target and 431 for a large head", "[edge][http]") {
  Limits limits;
  limits.max_target_bytes = 100;
  limits.max_head_bytes = 1000;
  limits.max_headers = 5;
  RequestHead head;

  const std::string long_target = "GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  CHECK(ParseAll(long_target, head, limits).http_status == 414);

  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 5; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(ParseAll(many + "\r\n", head, limits).http_status == 431);

  // Without the end of the head in sight, the parser gives up at the limit, not later.
  const std::string endless = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'v');
  CHECK(ParseAll(endless, head, limits).http_status == 431);
}

TEST_CASE("response heads: framing by status, method and fields", "[edge][http]") {
  struct Case {
    const char* wire;
    const char* method;
    BodyFraming framing;
    bool keep_alive;
  };
  const Case c = GENERATE(values<Case>({
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", BodyFraming::kLength, true},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", BodyFraming::kNone, true},
      {"HTTP/1.1 204 No Content\r\n\r\n", "GET", BodyFraming::kNone, true},
      {"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", "GET", BodyFraming::kNone, true},
      {"HTTP/1.1 100 Continue\r\n\r\n", "POST", BodyFraming::kNone, true},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", BodyFraming::kChunked, true},
      {"HTTP/1.1 200 OK\r\n\r\n", "GET", BodyFraming::kUntilClose, false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", BodyFraming::kLength, false},
      {"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", "GET", BodyFraming::kLength, true},
  }));
  INFO(c.wire);
  ResponseParser parser;
  ResponseHead head;
  REQUIRE(parser.Parse(c.wire, c.method, head).status == ParseStatus::kComplete);
  CHECK(head.framing == c.framing);
  CHECK(head.keep_alive == c.keep_alive);
}

TEST_CASE("a backend's ambiguous or broken response is a 502", "[edge][http]") {
  const char* wire =
      GENERATE("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
               "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
               "HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", "SSH-2.0-OpenSSH\r\n\r\n",
               "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n");
  INFO(wire);
  ResponseParser parser;
  ResponseHead head;
  const ParseResult r = parser.Parse(wire, "GET", head);
  REQUIRE(r.status == ParseStatus::kInvalid);
  CHECK(r.http_status == 502);
}

TEST_CASE("chunked bodies decode across any split and stop at their end", "[edge][http]") {
  const std::string body =
      "5;name=value;q=\"quoted \\\"x\\\"\"\r\nhello\r\n"
      "A\r\n, world!!!\r\n"
      "0\r\nExpires: never\r\n\r\n";
  for (size_t split = 0; split <= body.size(); ++split) {
    INFO("split at " << split);
    ChunkedDecoder decoder;
    std::string data;
    const auto a = decoder.Feed(std::string_view(body).substr(0, split), &data);
    REQUIRE_FALSE(a.error);
    REQUIRE(a.consumed == split);
    const auto b = decoder.Feed(std::string_view(body + "GET /next").substr(split), &data);
    REQUIRE_FALSE(b.error);
    REQUIRE(b.done);
    CHECK(split + b.consumed == body.size());  // the next request's bytes are not taken
    CHECK(data == "hello, world!!!");
    CHECK(decoder.payload_bytes() == 15);
  }
}

TEST_CASE("refuses malformed chunked bodies", "[edge][http]") {
  const char* body =
      GENERATE("x\r\n", "\r\n", "5\r\nhelloX\r\n", "5\nhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n",
               "5 x\r\nhello\r\n", "1ffffffffffffffff\r\n", "-1\r\n", "0x5\r\n", "5;\r\n",
               "5;a=\"open\r\n", "0\r\nbad trailer\r\n\r\n", "0\r\nX : y\r\n\r\n", "5\r\r\n");
  INFO(body);
  ChunkedDecoder decoder;
  const auto r = decoder.Feed(body);
  CHECK(r.error);
  CHECK_FALSE(r.done);
}

TEST_CASE("a quoted-pair in a chunk extension escapes only a visible character", "[edge][http]") {
  ChunkedDecoder ok;
  CHECK(ok.Feed("1;a=\"\\\"\\ \"\r\nx\r\n0\r\n\r\n").done);
  ChunkedDecoder control;
  const std::string nul = std::string("1;a=\"\\") + '\0' + "\"\r\nx\r\n0\r\n\r\n";
  CHECK(control.Feed(nul).error);
}

TEST_CASE("refuses fragments, backslashes and dot segments in targets, keeps look-alikes",
          "[edge][http]") {
  auto status = [](const std::string& target) {
    RequestHead head;
    const ParseResult r = ParseAll("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n", head);
    return r.status == ParseStatus::kInvalid ? r.http_status : 0;
  };
  for (const char* refused :
       {"/a#b", "/a\\b", "/..", "/.", "/a/../b", "/a/./b", "/a/..", "/a/%2e%2E/b", "/a/.%2e",
        "/a/..%2Fb", "/a/..%5cb", "/a/../b?x", "http://h/a/../b", "http://h/a#b"}) {
    INFO(refused);
    CHECK(status(refused) == 400);
  }
  for (const char* kept : {"/", "/a/...", "/a/.well-known/b", "/a/b..c/", "/a%2Fb/c", "/a?x=../y",
                           "/a?x=./y", "/..a/b", "http://h/a/b"}) {
    INFO(kept);
    CHECK(status(kept) == 0);
  }
}

TEST_CASE("trailer fields that must not be trailers are left out of what goes on", "[edge][http]") {
  const std::string body =
      "3\r\nabc\r\n0\r\nX-Sum: 1\r\nContent-Length: 3\r\nTRANSFER-ENCODING: chunked\r\n"
      "Host: evil\r\nConnection: close\r\nX-Other:  2 \r\n\r\n";
  // Byte by byte too: where the chunks end must not depend on how bytes arrive.
  for (const size_t step : {body.size(), size_t{1}}) {
    ChunkedDecoder decoder;
    std::string forwarded;
    bool done = false;
    for (size_t at = 0; at < body.size() && !done; at += step) {
      const std::string_view in = std::string_view(body).substr(at, step);
      const ChunkedDecoder::Result r = decoder.Feed(in);
      REQUIRE_FALSE(r.error);
      CHECK(r.consumed == in.size());
      forwarded.append(in.substr(0, r.forward));
      done = r.done;
    }
    REQUIRE(done);
    forwarded += decoder.trailers();
    CHECK(forwarded == "3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n");
    CHECK(decoder.dropped_trailers() == 4);
  }
}

}  // namespace
}  // namespace holdfast::edge::http
