// The HTTP/1.1 connection manager: one client connection's requests, read, routed (router.h),
// sent upstream (upstream_request.h) or answered by the edge (local_reply.h), and logged
// (access_log.h). Runs on its worker's loop and touches only that worker's state and the
// immutable config.
#ifndef HOLDFAST_EDGE_SERVER_HTTP_CONNECTION_H_
#define HOLDFAST_EDGE_SERVER_HTTP_CONNECTION_H_

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstddef>

#include "edge/server/admission.h"

namespace holdfast::edge {

class Worker;

// Serves HTTP/1.1 requests on `client` until it closes, times out, sends a request the edge
// refuses, or the edge drains. A plain-HTTP connection idle for a while is parked in the
// worker's ParkingLot, which starts a new session for it when its next request comes.
asio::awaitable<void> HttpSession(Worker& worker, size_t listener, asio::ip::tcp::socket client,
                                  Admission admission);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_HTTP_CONNECTION_H_
