// The per-connection coroutines of a worker: HTTP/1.1 proxying and L4 pass-through. Each runs
// on its worker's loop and touches only that worker's state and the immutable config.
#ifndef HOLDFAST_EDGE_SERVER_SESSION_H_
#define HOLDFAST_EDGE_SERVER_SESSION_H_

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstddef>
#include <string>

#include "edge/http/parser.h"
#include "edge/server/parking.h"

namespace holdfast::edge {

class Worker;

// Serves HTTP/1.1 requests on `client` until it closes, times out, sends a request the edge
// refuses, or the edge drains. A plain-HTTP connection idle for a while is parked in the
// worker's ParkingLot, which starts a new session for it when its next request comes.
asio::awaitable<void> HttpSession(Worker& worker, size_t listener, asio::ip::tcp::socket client,
                                  Admission admission);

// Connects `client` to an endpoint of the listener's cluster and copies bytes both ways, with
// half-close, until both sides are done or the idle timeout passes.
asio::awaitable<void> TcpSession(Worker& worker, size_t listener, asio::ip::tcp::socket client,
                                 Admission admission);

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

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_SESSION_H_
