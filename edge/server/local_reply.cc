#include "edge/server/local_reply.h"

#include "common/cat.h"

namespace holdfast::edge {

std::string_view FlagCode(ResponseFlag flag) {
  switch (flag) {
    case ResponseFlag::kNone:
      return "-";
    case ResponseFlag::kNoRoute:
      return "NR";
    case ResponseFlag::kNoHealthyUpstream:
      return "UH";
    case ResponseFlag::kUpstreamOverflow:
      return "UO";
    case ResponseFlag::kUpstreamConnectFailure:
      return "UF";
    case ResponseFlag::kUpstreamRequestTimeout:
      return "UT";
    case ResponseFlag::kUpstreamConnectionTermination:
      return "UC";
    case ResponseFlag::kUpstreamProtocolError:
      return "UPE";
    case ResponseFlag::kDownstreamProtocolError:
      return "DPE";
    case ResponseFlag::kDownstreamRequestTimeout:
      return "DT";
    case ResponseFlag::kDownstreamConnectionTermination:
      return "DC";
    case ResponseFlag::kRateLimited:
      return "RL";
  }
  return "-";
}

std::string_view FlagName(ResponseFlag flag) {
  switch (flag) {
    case ResponseFlag::kNone:
      return "";
    case ResponseFlag::kNoRoute:
      return "no route";
    case ResponseFlag::kNoHealthyUpstream:
      return "no healthy upstream";
    case ResponseFlag::kUpstreamOverflow:
      return "upstream overflow";
    case ResponseFlag::kUpstreamConnectFailure:
      return "upstream connect failure";
    case ResponseFlag::kUpstreamRequestTimeout:
      return "upstream request timeout";
    case ResponseFlag::kUpstreamConnectionTermination:
      return "upstream connection termination";
    case ResponseFlag::kUpstreamProtocolError:
      return "upstream protocol error";
    case ResponseFlag::kDownstreamProtocolError:
      return "downstream protocol error";
    case ResponseFlag::kDownstreamRequestTimeout:
      return "downstream request timeout";
    case ResponseFlag::kDownstreamConnectionTermination:
      return "downstream connection termination";
    case ResponseFlag::kRateLimited:
      return "client over its rate limit";
  }
  return "";
}

LocalReply ReplyFor(ResponseFlag flag) {
  int status = 502;
  switch (flag) {
    case ResponseFlag::kNoRoute:
      status = 404;
      break;
    case ResponseFlag::kNoHealthyUpstream:
    case ResponseFlag::kUpstreamOverflow:
      status = 503;
      break;
    case ResponseFlag::kUpstreamRequestTimeout:
      status = 504;
      break;
    case ResponseFlag::kDownstreamProtocolError:
      status = 400;
      break;
    case ResponseFlag::kDownstreamRequestTimeout:
      status = 408;
      break;
    case ResponseFlag::kRateLimited:
      status = 429;
      break;
    default:
      break;
  }
  return LocalReply{status, flag, FlagName(flag)};
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

std::string LocalReplyBody(const LocalReply& reply) {
  return Cat(reply.status, " ", ReasonPhrase(reply.status), ": ", reply.reason, "\n");
}

std::string RenderLocalReply(const LocalReply& reply, bool keep_alive, bool head_request) {
  const std::string body = LocalReplyBody(reply);
  const bool retry_after = reply.status == 503 || reply.status == 429;
  return Cat("HTTP/1.1 ", reply.status, " ", ReasonPhrase(reply.status),
             "\r\nContent-Type: text/plain\r\nContent-Length: ", body.size(),
             retry_after ? "\r\nRetry-After: " : "",
             retry_after ? std::to_string(reply.retry_after.count()) : "",
             keep_alive ? "" : "\r\nConnection: close", "\r\nVia: 1.1 holdfast\r\n\r\n",
             head_request ? std::string_view() : std::string_view(body));
}

}  // namespace holdfast::edge
