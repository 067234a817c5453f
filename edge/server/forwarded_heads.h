// The heads the edge forwards, as RFC 9110 section 7.6 has a proxy rewrite them: hop-by-hop
// fields dropped, the edge's own Via, X-Forwarded-For and Forwarded added. Pure.
#ifndef HOLDFAST_EDGE_SERVER_FORWARDED_HEADS_H_
#define HOLDFAST_EDGE_SERVER_FORWARDED_HEADS_H_

#include <string>
#include <string_view>

#include "edge/http/parser.h"

namespace holdfast::edge {

// The head forwarded to a backend: the request line in origin-form as HTTP/1.1, the client's
// fields without hop-by-hop ones, then X-Forwarded-For, X-Forwarded-Proto, Forwarded and Via.
// `drop_expect`: the edge answered 100-continue itself. `drop_underscored`: fields whose name has
// an underscore are left out.
std::string UpstreamRequestHead(const http::RequestHead& head, std::string_view client_ip,
                                std::string_view proto, bool drop_expect, bool drop_underscored);

// The head forwarded to the client: the backend's status and fields without hop-by-hop ones,
// plus Via and the Connection the edge decided on. `dechunk`: the body goes to an HTTP/1.0
// client decoded, so Transfer-Encoding is dropped.
std::string ClientResponseHead(const http::ResponseHead& head, int client_minor_version,
                               bool keep_alive, bool dechunk);

// `target` in origin-form: an absolute-form target loses its scheme and authority. The result
// views `target` or, when a "/" had to be added, `storage`.
std::string_view OriginForm(std::string_view target, std::string& storage);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_FORWARDED_HEADS_H_
