// The router's decisions (edge/server/router.h) and the edge's own answers (local_reply.h),
// without sockets: what a request is planned to, which failures are tried again, what the
// client is told.
#include "edge/server/router.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "edge/server/local_reply.h"

namespace holdfast::edge {
namespace {

// One http listener, one route "/api/" with `retries` to cluster "api" (two endpoints, round
// robin, at most 10 requests in flight).
struct Fixture {
  EdgeConfig config;
  std::string raw;
  http::RequestHead head;

  explicit Fixture(uint32_t retries = 2) {
    ClusterConfig cluster;
    cluster.name = "api";
    cluster.endpoints = {{"10.0.0.1:80", 1}, {"10.0.0.2:80", 1}};
    cluster.lb = *ClusterLb::Compile(LbPolicy::kRoundRobin, cluster.endpoints);
    cluster.max_requests = 10;
    config.clusters.push_back(std::move(cluster));
    RouteConfig route;
    route.name = "api";
    route.path_prefix = "/api/";
    route.retries = retries;
    route.retry_connect_failure = true;
    route.retry_reset = true;
    route.retry_5xx = true;
    config.routes.push_back(route);
    ListenerConfig listener;
    listener.name = "http";
    listener.protocol = v1::Listener::PROTOCOL_HTTP;
    listener.routes = {0};
    config.listeners.push_back(listener);
  }

  RoutePlan Plan(std::string request) {
    raw = std::move(request);
    http::RequestParser parser;
    REQUIRE(parser.Parse(raw, head).status == http::ParseStatus::kComplete);
    return PlanRequest(config, config.listeners[0], head, "192.0.2.7");
  }
};

TEST_CASE("router: a request no route matches is answered 404, flag NR") {
  Fixture f;
  const RoutePlan plan = f.Plan("GET /other HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(plan.route == nullptr);
  CHECK(plan.reply.status == 404);
  CHECK(FlagCode(plan.reply.flag) == "NR");
}

TEST_CASE(
    "router: a request its cluster's gate refuses is answered 503 UO with the gate's "
    "reason and Retry-After") {
  const LocalReply reply =
      ShedReply(ClusterGate::Refusal{ShedReason::kConcurrencyLimit, std::chrono::seconds(7)});
  CHECK(reply.status == 503);
  CHECK(FlagCode(reply.flag) == "UO");
  CHECK(reply.reason == "over the cluster's adaptive concurrency limit");
  CHECK(RenderLocalReply(reply, true).find("\r\nRetry-After: 7\r\n") != std::string::npos);
  CHECK(ShedReply({ShedReason::kMaxRequests, std::chrono::seconds(1)}).reason ==
        "over the cluster's max_requests");
  CHECK(ShedReply({ShedReason::kPendingTimeout, std::chrono::seconds(1)}).reason ==
        "over the cluster's limit for longer than pending_timeout");
}

TEST_CASE("router: underscored header names are dropped, or refused where the listener says") {
  Fixture f;
  const std::string request = "GET /api/x HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 1.2.3.4\r\n\r\n";
  RoutePlan plan = f.Plan(request);
  CHECK(plan.reply.status == 0);
  CHECK(plan.drop_underscored);
  f.config.listeners[0].headers_with_underscores = v1::Listener::HEADERS_WITH_UNDERSCORES_REJECT;
  plan = f.Plan(request);
  CHECK(plan.reply.status == 400);
  CHECK(FlagCode(plan.reply.flag) == "DPE");
  f.config.listeners[0].headers_with_underscores = v1::Listener::HEADERS_WITH_UNDERSCORES_ALLOW;
  plan = f.Plan(request);
  CHECK(plan.reply.status == 0);
  CHECK_FALSE(plan.drop_underscored);
}

TEST_CASE("router: only bodiless requests get retries; only idempotent ones are resendable") {
  Fixture f(/*retries=*/2);
  RoutePlan get = f.Plan("GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(get.attempts == 3);
  CHECK(get.resendable);
  RoutePlan post = f.Plan("POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n");
  CHECK(post.attempts == 1);
  CHECK(post.has_body);
  RoutePlan bodiless_post = f.Plan("POST /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(bodiless_post.attempts == 3);
  CHECK_FALSE(bodiless_post.resendable);
  f.config.routes[0].retry_non_idempotent = true;
  CHECK(f.Plan("POST /api/x HTTP/1.1\r\nHost: a\r\n\r\n").resendable);
}

TEST_CASE("router: which failures are tried again, and never past the last attempt") {
  Fixture f(/*retries=*/1);
  const RoutePlan get = f.Plan("GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(RetryAfter(get, UpstreamFailure::kConnect, 0));
  CHECK(RetryAfter(get, UpstreamFailure::kConnectTimeout, 0));
  CHECK(RetryAfter(get, UpstreamFailure::kReset, 0));
  CHECK(RetryAfter(get, UpstreamFailure::k5xx, 0));
  CHECK_FALSE(RetryAfter(get, UpstreamFailure::kTimeout, 0));
  CHECK_FALSE(RetryAfter(get, UpstreamFailure::kBadResponse, 0));
  CHECK_FALSE(RetryAfter(get, UpstreamFailure::kOverflow, 0));
  CHECK_FALSE(RetryAfter(get, UpstreamFailure::kConnect, 1));  // the last attempt
  CHECK(HoldBack5xx(get, 0));
  CHECK_FALSE(HoldBack5xx(get, 1));  // the last attempt's 5xx goes to the client

  // A POST may have changed something on the backend that reset: not sent twice.
  const RoutePlan post = f.Plan("POST /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(RetryAfter(post, UpstreamFailure::kConnect, 0));
  CHECK_FALSE(RetryAfter(post, UpstreamFailure::kReset, 0));
  CHECK_FALSE(HoldBack5xx(post, 0));

  f.config.routes[0].retry_connect_failure = false;
  CHECK_FALSE(RetryAfter(get, UpstreamFailure::kConnect, 0));
}

TEST_CASE("router: a closed pooled connection is retried fresh only when that is safe") {
  CHECK(ResendOnFresh(UpstreamFailure::kReset, /*reused=*/true, /*request_sent=*/false, false));
  CHECK(ResendOnFresh(UpstreamFailure::kReset, true, /*request_sent=*/true, /*resendable=*/true));
  CHECK_FALSE(ResendOnFresh(UpstreamFailure::kReset, true, true, /*resendable=*/false));
  CHECK_FALSE(ResendOnFresh(UpstreamFailure::kReset, /*reused=*/false, false, true));
  CHECK_FALSE(ResendOnFresh(UpstreamFailure::kTimeout, true, false, true));
}

TEST_CASE("router: what outlier detection hears of an attempt") {
  CHECK(OutcomeFor(200, UpstreamFailure::kNone, false) == RequestOutcome::kSuccess);
  CHECK(OutcomeFor(404, UpstreamFailure::kNone, false) == RequestOutcome::kSuccess);
  CHECK(OutcomeFor(503, UpstreamFailure::kNone, false) == RequestOutcome::k5xx);
  CHECK(OutcomeFor(0, UpstreamFailure::kTimeout, false) == RequestOutcome::k5xx);
  CHECK(OutcomeFor(0, UpstreamFailure::kBadResponse, true) == RequestOutcome::k5xx);
  CHECK_FALSE(OutcomeFor(0, UpstreamFailure::kNone, false).has_value());  // the client left
  CHECK_FALSE(OutcomeFor(0, UpstreamFailure::kReset, true).has_value());  // a stale pooled one
  CHECK(OutcomeFor(0, UpstreamFailure::kReset, false) == RequestOutcome::k5xx);
}

TEST_CASE("router: the answer after the last failed attempt names its flag and reason") {
  struct Case {
    UpstreamFailure failure;
    int status;
    std::string_view flag;
    std::string_view reason;
  };
  const Case cases[] = {
      {UpstreamFailure::kNoEndpoint, 503, "UH", "no healthy upstream"},
      {UpstreamFailure::kOverflow, 503, "UO", "upstream overflow"},
      {UpstreamFailure::kConnect, 502, "UF", "upstream connect failure"},
      {UpstreamFailure::kConnectTimeout, 504, "UF", "upstream connect timeout"},
      {UpstreamFailure::kReset, 502, "UC", "upstream connection termination"},
      {UpstreamFailure::kTimeout, 504, "UT", "upstream request timeout"},
      {UpstreamFailure::kBadResponse, 502, "UPE", "upstream protocol error"},
  };
  for (const Case& c : cases) {
    const LocalReply reply = ReplyFor(c.failure);
    CHECK(reply.status == c.status);
    CHECK(FlagCode(reply.flag) == c.flag);
    CHECK(reply.reason == c.reason);
  }
}

TEST_CASE("local reply: a 503 asks the client to back off; a closing one says so") {
  const std::string r503 = RenderLocalReply(ReplyFor(UpstreamFailure::kNoEndpoint), true);
  CHECK(r503.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK(r503.find("\r\nRetry-After: 1\r\n") != std::string::npos);
  CHECK(r503.find("Connection: close") == std::string::npos);
  CHECK(r503.ends_with("\r\n\r\n503 Service Unavailable: no healthy upstream\n"));
  const std::string body = "503 Service Unavailable: no healthy upstream\n";
  CHECK(r503.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);

  const std::string r400 =
      RenderLocalReply({400, ResponseFlag::kDownstreamProtocolError, "bad chunk"}, false);
  CHECK(r400.starts_with("HTTP/1.1 400 Bad Request\r\n"));
  CHECK(r400.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(r400.find("Retry-After") == std::string::npos);

  // RFC 9110 section 9.3.2: the answer to HEAD has the GET's head and no content.
  const std::string head = RenderLocalReply(ReplyFor(ResponseFlag::kNoRoute), true, true);
  CHECK(head.ends_with("\r\n\r\n"));
  CHECK(head.find("Content-Length: " +
                  std::to_string(LocalReplyBody(ReplyFor(ResponseFlag::kNoRoute)).size())) !=
        std::string::npos);
}

}  // namespace
}  // namespace holdfast::edge
