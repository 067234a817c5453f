// The router's decisions for one HTTP request, as Envoy's router filter makes them but with no
// I/O and no clock: which route and cluster, what the client hears when the cluster's gate
// refuses it, how many attempts it gets and which failures are tried again, what the backend is
// told of each outcome, and what the client is answered when no attempt succeeds. The
// connection (http_connection.cc) feeds it what it saw and carries out what it returns; unit
// tests call it directly.
#ifndef HOLDFAST_EDGE_SERVER_ROUTER_H_
#define HOLDFAST_EDGE_SERVER_ROUTER_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "edge/config/edge_config.h"
#include "edge/health/outlier.h"
#include "edge/http/parser.h"
#include "edge/overload/gate.h"
#include "edge/server/local_reply.h"

namespace holdfast::edge {

// Why an attempt against an endpoint did not give the client a response.
enum class UpstreamFailure {
  kNone,
  kNoEndpoint,      // nothing eligible to pick
  kOverflow,        // the cluster's connection limit
  kConnect,         // refused, reset or unreachable
  kConnectTimeout,  // the cluster's connect_timeout passed
  kReset,           // closed or reset before a whole response head
  kTimeout,         // the route's per-try timeout passed
  kBadResponse,     // a response that breaks HTTP/1.1
  k5xx,             // a 5xx held back for another attempt
};

// What the router decided for a request, before any attempt.
struct RoutePlan {
  // The matched route; null when none matched or the head was refused before matching.
  const RouteConfig* route = nullptr;
  // Set (status != 0) when the request is answered at once, without an attempt.
  LocalReply reply;
  // Maglev's key hashed; 0 for the other policies.
  uint64_t hash = 0;
  uint32_t attempts = 1;
  bool has_body = false;
  // RFC 9110 section 9.2.2: sending it twice means the same, or the route says that is safe.
  bool resendable = false;
  // Underscored field names are left out of the forwarded head.
  bool drop_underscored = false;
};

// Plans `head`, received on `listener` from `client_ip`. A planned request (no reply) then
// passes its cluster's gate (edge/overload/gate.h) at its route's priority before any attempt.
RoutePlan PlanRequest(const EdgeConfig& config, const ListenerConfig& listener,
                      const http::RequestHead& head, std::string_view client_ip);

// The answer to a request or connection the cluster's gate refused: 503, flag UO, the reason
// and the gate's Retry-After.
LocalReply ShedReply(const ClusterGate::Refusal& refusal);

// Whether a 5xx answering attempt `attempt` (from 0) is held back and the request tried again
// elsewhere: only while the client has seen nothing, the request can be sent again (no body)
// and means the same twice, and another attempt is left.
bool HoldBack5xx(const RoutePlan& plan, uint32_t attempt);

// Whether attempt `attempt` failing with `failure` is followed by another. A connection that
// could not be made carried no byte of the request; a reset one may have, so only a resendable
// request is tried again after it.
bool RetryAfter(const RoutePlan& plan, UpstreamFailure failure, uint32_t attempt);

// Whether a request whose reused (pooled) connection was found closed is sent once more on a
// fresh one: the backend closed it before answering, and either none of the request went out
// or the request is resendable (the backend may have read it before it closed).
bool ResendOnFresh(UpstreamFailure failure, bool reused, bool request_sent, bool resendable);

// What outlier detection hears of an attempt that sent the client `status` (0: nothing) or
// failed with `failure`: gateway failures count against the endpoint like a 5xx, a client that
// went away (status 0, kNone) says nothing about it, nor does a pooled connection the backend
// had closed.
std::optional<RequestOutcome> OutcomeFor(int status, UpstreamFailure failure, bool reused);

// What the client is answered when the last attempt failed with `failure`.
LocalReply ReplyFor(UpstreamFailure failure);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_ROUTER_H_
