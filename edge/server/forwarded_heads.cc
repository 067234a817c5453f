#include "edge/server/forwarded_heads.h"

#include <vector>

#include "common/cat.h"

namespace holdfast::edge {
namespace {

// RFC 9110 section 7.6.1: fields that describe one connection, never forwarded.
bool IsHopByHop(std::string_view name) {
  static constexpr std::string_view kFields[] = {"connection", "keep-alive", "proxy-connection",
                                                 "te",         "trailer",    "upgrade"};
  for (const std::string_view f : kFields) {
    if (http::EqualsIgnoreCase(name, f)) return true;
  }
  return false;
}

// Fields the Connection field names (`options`) are hop-by-hop too, except those that frame the
// message or name its host: a client listing "Content-Length" there must not get it stripped on
// the way (a smuggling trick), nor the backend lose the Host that was routed on.
bool NamedByConnection(std::string_view name, const std::vector<std::string_view>& options) {
  if (http::EqualsIgnoreCase(name, "content-length") ||
      http::EqualsIgnoreCase(name, "transfer-encoding") || http::EqualsIgnoreCase(name, "host")) {
    return false;
  }
  for (const std::string_view option : options) {
    if (http::EqualsIgnoreCase(option, name)) return true;
  }
  return false;
}

}  // namespace

std::string_view OriginForm(std::string_view target, std::string& storage) {
  if (target.empty() || target.front() == '/' || target == "*") return target;
  const size_t scheme_end = target.find("://");
  std::string_view rest = target.substr(scheme_end + 3);
  const size_t path = rest.find_first_of("/?#");
  rest = path == std::string_view::npos ? std::string_view() : rest.substr(path);
  if (!rest.empty() && rest.front() == '/') return rest;
  storage = Cat("/", rest);
  return storage;
}

std::string UpstreamRequestHead(const http::RequestHead& head, std::string_view client_ip,
                                std::string_view proto, bool drop_expect, bool drop_underscored) {
  std::string storage;
  std::string out = Cat(head.method, " ", OriginForm(head.target, storage), " HTTP/1.1\r\n");
  std::string_view xff;
  std::string_view forwarded;
  std::string_view via;
  bool host_sent = false;
  std::vector<std::string_view> options;
  http::ConnectionOptions(head.headers, options);
  for (const http::Header& h : head.headers) {
    if (IsHopByHop(h.name) || NamedByConnection(h.name, options)) continue;
    if (drop_expect && http::EqualsIgnoreCase(h.name, "expect")) continue;
    if (drop_underscored && h.name.find('_') != std::string_view::npos) continue;
    // Appended to below, as one field each.
    if (http::EqualsIgnoreCase(h.name, "x-forwarded-for")) {
      xff = h.value;
      continue;
    }
    if (http::EqualsIgnoreCase(h.name, "forwarded")) {
      forwarded = h.value;
      continue;
    }
    if (http::EqualsIgnoreCase(h.name, "via")) {
      via = h.value;
      continue;
    }
    if (http::EqualsIgnoreCase(h.name, "x-forwarded-proto")) continue;  // the edge knows
    if (http::EqualsIgnoreCase(h.name, "host")) {
      // An absolute-form target's authority replaced the Host field (RFC 9112 section 3.2.2).
      Append(out, "Host: ", head.host, "\r\n");
      host_sent = true;
      continue;
    }
    Append(out, h.name, ": ", h.value, "\r\n");
  }
  if (!host_sent && !head.host.empty()) Append(out, "Host: ", head.host, "\r\n");
  const bool v6 = client_ip.find(':') != std::string_view::npos;
  Append(out, "X-Forwarded-For: ", xff, xff.empty() ? "" : ", ", client_ip, "\r\n");
  Append(out, "X-Forwarded-Proto: ", proto, "\r\n");
  Append(out, "Forwarded: ", forwarded, forwarded.empty() ? "" : ", ", "for=", v6 ? "\"[" : "",
         client_ip, v6 ? "]\"" : "", ";proto=", proto, "\r\n");
  Append(out, "Via: ", via, via.empty() ? "" : ", ", "1.", head.minor_version, " holdfast\r\n\r\n");
  return out;
}

std::string ClientResponseHead(const http::ResponseHead& head, int client_minor_version,
                               bool keep_alive, bool dechunk) {
  std::string out =
      Cat("HTTP/1.", client_minor_version, " ", head.status, " ", head.reason, "\r\n");
  std::string_view via;
  std::vector<std::string_view> options;
  http::ConnectionOptions(head.headers, options);
  for (const http::Header& h : head.headers) {
    if (IsHopByHop(h.name) || NamedByConnection(h.name, options)) continue;
    if (dechunk && http::EqualsIgnoreCase(h.name, "transfer-encoding")) continue;
    if (http::EqualsIgnoreCase(h.name, "via")) {
      via = h.value;
      continue;
    }
    Append(out, h.name, ": ", h.value, "\r\n");
  }
  Append(out, "Via: ", via, via.empty() ? "" : ", ", "1.", head.minor_version, " holdfast\r\n");
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (client_minor_version == 0) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

}  // namespace holdfast::edge
