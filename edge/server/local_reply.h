// What the edge answers itself, and why: the one author of its error responses. Each answer
// carries a response flag, the short code an operator greps the access log for (Envoy's codes,
// so dashboards and habits carry over), and the reason that goes into the body and the logs.
#ifndef HOLDFAST_EDGE_SERVER_LOCAL_REPLY_H_
#define HOLDFAST_EDGE_SERVER_LOCAL_REPLY_H_

#include <chrono>
#include <string>
#include <string_view>

namespace holdfast::edge {

// Why a request did not get (all of) a backend's response.
enum class ResponseFlag {
  kNone,
  kNoRoute,                          // NR: no route for the host and path (404)
  kNoHealthyUpstream,                // UH: no endpoint of the cluster is eligible (503)
  kUpstreamOverflow,                 // UO: the cluster's request or connection limit (503)
  kUpstreamConnectFailure,           // UF: no connection to the endpoint (502, or 504 on timeout)
  kUpstreamRequestTimeout,           // UT: the route's timeout passed (504)
  kUpstreamConnectionTermination,    // UC: the backend closed or reset mid-exchange (502)
  kUpstreamProtocolError,            // UPE: the backend's response broke HTTP/1.1 (502)
  kDownstreamProtocolError,          // DPE: the client's request broke HTTP/1.1 or policy (400)
  kDownstreamRequestTimeout,         // DT: the request head did not arrive in time (408)
  kDownstreamConnectionTermination,  // DC: the client went away before the response ended
  kRateLimited,                      // RL: the client is over its listener's rate limit (429)
};

// "UH", "UO", ...; "-" for kNone.
std::string_view FlagCode(ResponseFlag flag);
// "no healthy upstream", "upstream overflow", ...; "" for kNone.
std::string_view FlagName(ResponseFlag flag);

// An answer the edge makes itself.
struct LocalReply {
  int status = 0;
  ResponseFlag flag = ResponseFlag::kNone;
  // Why, in a few words: the flag's name unless something more exact is known.
  std::string_view reason;
  // A 503's or 429's Retry-After (RFC 9110 section 10.2.3, RFC 6585 section 4): when an
  // overloaded cluster's gate, or the client's rate limit, expects the client may come back.
  std::chrono::seconds retry_after{1};
};

// The reply a flag stands for: its status (NR 404, UH and UO 503, UT 504, DPE 400, DT 408, RL
// 429, the other upstream flags 502) and its name as the reason.
LocalReply ReplyFor(ResponseFlag flag);

// RFC 9110 section 15's phrase for the statuses the edge answers itself.
std::string_view ReasonPhrase(int status);

// The short text body of `reply`, naming the status and the reason.
std::string LocalReplyBody(const LocalReply& reply);

// The whole HTTP/1.1 response for `reply`: LocalReplyBody, Via, and Connection: close unless
// `keep_alive`. A 503 or 429 carries Retry-After (reply.retry_after), so well-behaved clients
// back off instead of hammering an overloaded edge. The answer to a HEAD request (`head_request`)
// is the head alone, its Content-Length still the body's (RFC 9110 section 9.3.2).
std::string RenderLocalReply(const LocalReply& reply, bool keep_alive, bool head_request = false);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_LOCAL_REPLY_H_
