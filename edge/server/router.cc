#include "edge/server/router.h"

#include <string>

#include "edge/server/forwarded_heads.h"
#include "edge/upstream/stable_hash.h"

namespace holdfast::edge {
namespace {

bool IsIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE" || method == "TRACE";
}

// Whether a request field's name has an underscore (see Listener.headers_with_underscores).
bool HasUnderscoredField(const http::RequestHead& head) {
  for (const http::Header& h : head.headers) {
    if (h.name.find('_') != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

RoutePlan PlanRequest(const EdgeConfig& config, const ListenerConfig& listener,
                      const http::RequestHead& head, std::string_view client_ip) {
  RoutePlan plan;
  plan.has_body = head.framing != http::BodyFraming::kNone;
  // Most listeners drop or refuse underscored names; one that allows them needs no scan.
  const auto underscores = listener.headers_with_underscores;
  if (underscores != v1::Listener::HEADERS_WITH_UNDERSCORES_ALLOW && HasUnderscoredField(head)) {
    if (underscores == v1::Listener::HEADERS_WITH_UNDERSCORES_REJECT) {
      plan.reply = {400, ResponseFlag::kDownstreamProtocolError, "header name with an underscore"};
      return plan;
    }
    plan.drop_underscored = true;
  }
  const RouteConfig* route = nullptr;
  {
    std::string storage;
    route = config.Match(listener, head.host, OriginForm(head.target, storage));
  }
  if (route == nullptr) {
    plan.reply = {404, ResponseFlag::kNoRoute, "no route for this host and path"};
    return plan;
  }
  plan.route = route;
  const ClusterConfig& cluster = config.clusters[route->cluster];
  // Only Maglev hashes; the others are spared the work.
  if (cluster.lb->policy() == LbPolicy::kMaglev) {
    plan.hash = HashKey(cluster.hash_header.empty() ? client_ip : head.Find(cluster.hash_header));
  }
  // Retries need the request again: only bodiless requests are retried.
  plan.attempts = 1 + (plan.has_body ? 0 : route->retries);
  plan.resendable = IsIdempotent(head.method) || route->retry_non_idempotent;
  return plan;
}

LocalReply ShedReply(const ClusterGate::Refusal& refusal) {
  LocalReply reply = edge::ReplyFor(ResponseFlag::kUpstreamOverflow);
  switch (refusal.reason) {
    case ShedReason::kConcurrencyLimit:
      reply.reason = "over the cluster's adaptive concurrency limit";
      break;
    case ShedReason::kMaxRequests:
      reply.reason = "over the cluster's max_requests";
      break;
    case ShedReason::kMaxConnections:
      reply.reason = "over the cluster's max_connections";
      break;
    case ShedReason::kMaxPending:
      reply.reason = "over the cluster's limit with max_pending waiting";
      break;
    case ShedReason::kPendingTimeout:
      reply.reason = "over the cluster's limit for longer than pending_timeout";
      break;
  }
  reply.retry_after = refusal.retry_after;
  return reply;
}

bool HoldBack5xx(const RoutePlan& plan, uint32_t attempt) {
  return plan.route->retry_5xx && !plan.has_body && plan.resendable && attempt + 1 < plan.attempts;
}

bool RetryAfter(const RoutePlan& plan, UpstreamFailure failure, uint32_t attempt) {
  if (attempt + 1 >= plan.attempts) return false;
  const RouteConfig& route = *plan.route;
  switch (failure) {
    case UpstreamFailure::kConnect:
    case UpstreamFailure::kConnectTimeout:
      return route.retry_connect_failure;
    case UpstreamFailure::kReset:
      return route.retry_reset && plan.resendable;
    case UpstreamFailure::k5xx:
      return true;  // held back by HoldBack5xx, which checked the rest
    default:
      return false;
  }
}

bool ResendOnFresh(UpstreamFailure failure, bool reused, bool request_sent, bool resendable) {
  return failure == UpstreamFailure::kReset && reused && (!request_sent || resendable);
}

std::optional<RequestOutcome> OutcomeFor(int status, UpstreamFailure failure, bool reused) {
  if (status >= 500) return RequestOutcome::k5xx;
  if (status != 0) return RequestOutcome::kSuccess;
  if (failure == UpstreamFailure::kNone || (failure == UpstreamFailure::kReset && reused)) {
    return std::nullopt;
  }
  return RequestOutcome::k5xx;
}

LocalReply ReplyFor(UpstreamFailure failure) {
  switch (failure) {
    case UpstreamFailure::kNoEndpoint:
      return edge::ReplyFor(ResponseFlag::kNoHealthyUpstream);
    case UpstreamFailure::kOverflow:
      return edge::ReplyFor(ResponseFlag::kUpstreamOverflow);
    case UpstreamFailure::kConnect:
      return edge::ReplyFor(ResponseFlag::kUpstreamConnectFailure);
    case UpstreamFailure::kConnectTimeout:
      return {504, ResponseFlag::kUpstreamConnectFailure, "upstream connect timeout"};
    case UpstreamFailure::kReset:
      return edge::ReplyFor(ResponseFlag::kUpstreamConnectionTermination);
    case UpstreamFailure::kTimeout:
      return edge::ReplyFor(ResponseFlag::kUpstreamRequestTimeout);
    case UpstreamFailure::kBadResponse:
      return edge::ReplyFor(ResponseFlag::kUpstreamProtocolError);
    case UpstreamFailure::k5xx:
    case UpstreamFailure::kNone:
      break;
  }
  // Not reached: a held-back 5xx is followed by another attempt, and kNone is no failure.
  return {502, ResponseFlag::kUpstreamProtocolError, "upstream answered 5xx"};
}

}  // namespace holdfast::edge
