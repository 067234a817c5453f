// Fuzzes the edge's HTTP/1.1 parser: the input is read as a request head, as a response head
// (to a GET and to a HEAD) and as a chunked body. Small limits, so the limit paths are reached.
//
// Beyond "no crash, no hang, no leak", it checks what the proxy relies on:
//  - the answer does not depend on how the bytes arrived: a parser fed a prefix first, then the
//    whole input, ends where one fed the whole input at once does (status, head length, error
//    status); the same for the chunked decoder, fed in two pieces;
//  - a refused message names a status the edge answers with (400, 414, 431, 501, 505; 502 for
//    a backend's response);
//  - a head that parses, written out again in canonical form, parses to the same message, so
//    what holdfast forwards means what it accepted;
//  - a chunked body that decodes, re-chunked, decodes to the same payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "edge/http/parser.h"

namespace holdfast::edge::http {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "http_fuzz: broken invariant: " << what << "\n";
    std::abort();
  }
}

Limits FuzzLimits() {
  Limits l;
  l.max_head_bytes = 2048;
  l.max_target_bytes = 256;
  l.max_headers = 16;
  return l;
}

// For parsing the canonical form again: it writes ": " after every field name where the
// input may have had ":" alone, so a head at the size limit can grow past it; what is compared
// is what the head means, not its size.
Limits CanonicalLimits() {
  Limits l = FuzzLimits();
  l.max_head_bytes *= 2;
  return l;
}

bool Same(const ParseResult& a, const ParseResult& b) {
  return a.status == b.status && a.head_bytes == b.head_bytes && a.http_status == b.http_status;
}

std::string WriteHeaders(const std::vector<Header>& headers) {
  std::string out;
  for (const Header& h : headers) {
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  return out + "\r\n";
}

void FuzzRequest(std::string_view in, size_t split) {
  RequestHead whole;
  RequestParser p1(FuzzLimits());
  const ParseResult r = p1.Parse(in, whole);

  RequestHead pieces;
  RequestParser p2(FuzzLimits());
  ParseResult first = p2.Parse(in.substr(0, split), pieces);
  if (first.status == ParseStatus::kIncomplete) first = p2.Parse(in, pieces);
  Check(Same(r, first), "request: result depends on how the bytes arrived");

  if (r.status == ParseStatus::kInvalid) {
    const int s = r.http_status;
    Check(s == 400 || s == 414 || s == 431 || s == 501 || s == 505, "request: unexpected status");
    return;
  }
  if (r.status != ParseStatus::kComplete) return;
  Check(r.head_bytes <= in.size(), "request: head longer than the input");

  const std::string again = std::string(whole.method) + " " + std::string(whole.target) +
                            " HTTP/1." + std::to_string(whole.minor_version) + "\r\n" +
                            WriteHeaders(whole.headers);
  RequestHead reparsed;
  RequestParser p3(CanonicalLimits());
  const ParseResult r2 = p3.Parse(again, reparsed);
  Check(r2.status == ParseStatus::kComplete, "request: canonical form does not parse");
  Check(reparsed.method == whole.method && reparsed.target == whole.target &&
            reparsed.host == whole.host && reparsed.framing == whole.framing &&
            reparsed.content_length == whole.content_length &&
            reparsed.keep_alive == whole.keep_alive &&
            reparsed.headers.size() == whole.headers.size(),
        "request: canonical form parses differently");
}

void FuzzResponse(std::string_view in, size_t split, std::string_view method) {
  ResponseHead whole;
  ResponseParser p1(FuzzLimits());
  const ParseResult r = p1.Parse(in, method, whole);

  ResponseHead pieces;
  ResponseParser p2(FuzzLimits());
  ParseResult first = p2.Parse(in.substr(0, split), method, pieces);
  if (first.status == ParseStatus::kIncomplete) first = p2.Parse(in, method, pieces);
  Check(Same(r, first), "response: result depends on how the bytes arrived");

  if (r.status == ParseStatus::kInvalid) {
    Check(r.http_status == 502, "response: refusal is not a 502");
    return;
  }
  if (r.status != ParseStatus::kComplete) return;
  std::string again =
      "HTTP/1." + std::to_string(whole.minor_version) + " " + std::to_string(whole.status);
  if (!whole.reason.empty()) again.append(" ").append(whole.reason);
  again += "\r\n" + WriteHeaders(whole.headers);
  ResponseHead reparsed;
  ResponseParser p3(CanonicalLimits());
  Check(p3.Parse(again, method, reparsed).status == ParseStatus::kComplete,
        "response: canonical form does not parse");
  Check(reparsed.status == whole.status && reparsed.framing == whole.framing &&
            reparsed.content_length == whole.content_length &&
            reparsed.keep_alive == whole.keep_alive,
        "response: canonical form parses differently");
}

void FuzzChunked(std::string_view in, size_t split) {
  ChunkedDecoder d1(FuzzLimits());
  std::string data1;
  const ChunkedDecoder::Result r = d1.Feed(in, &data1);

  ChunkedDecoder d2(FuzzLimits());
  std::string data2;
  ChunkedDecoder::Result a = d2.Feed(in.substr(0, split), &data2);
  size_t consumed = a.consumed;
  if (!a.done && !a.error) {
    a = d2.Feed(in.substr(split), &data2);
    consumed += a.consumed;
  }
  Check(a.done == r.done && a.error == r.error, "chunked: result depends on how bytes arrived");
  Check(r.error || consumed == r.consumed, "chunked: consumed depends on how bytes arrived");
  Check(r.error || data1 == data2, "chunked: payload depends on how bytes arrived");
  Check(r.consumed <= in.size(), "chunked: consumed more than the input");
  if (!r.done) return;

  // What a proxy sends on: the chunks as they came, then the trailer fields kept. It must read
  // as the same body, with nothing left that may not be a trailer. The canonical trailer lines
  // may be longer than the ones received, as a canonical head may.
  Check(r.forward <= r.consumed, "chunked: forwards more than it consumed");
  const std::string forwarded = std::string(in.substr(0, r.forward)) + std::string(d1.trailers());
  ChunkedDecoder d4(CanonicalLimits());
  std::string data4;
  const ChunkedDecoder::Result r4 = d4.Feed(forwarded, &data4);
  Check(r4.done && r4.consumed == forwarded.size() && data4 == data1,
        "chunked: the forwarded body reads differently");
  Check(d4.dropped_trailers() == 0 && d4.trailers() == d1.trailers(),
        "chunked: a forbidden trailer field is forwarded");

  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data1.size());
  const std::string rechunked =
      data1.empty() ? std::string("0\r\n\r\n") : size + data1 + "\r\n0\r\n\r\n";
  ChunkedDecoder d3(FuzzLimits());
  std::string data3;
  const ChunkedDecoder::Result r3 = d3.Feed(rechunked, &data3);
  Check(r3.done && r3.consumed == rechunked.size() && data3 == data1,
        "chunked: re-chunked payload decodes differently");
}

}  // namespace
}  // namespace holdfast::edge::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace holdfast::edge::http;
  if (size == 0) return 0;
  // The first byte places the split for the two-piece runs; the rest is the message.
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = in.empty() ? 0 : data[0] % (in.size() + 1);
  FuzzRequest(in, split);
  FuzzResponse(in, split, "GET");
  FuzzResponse(in, split, "HEAD");
  FuzzChunked(in, split);
  return 0;
}
