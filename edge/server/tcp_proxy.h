// L4 pass-through: a tcp or tls listener's connection joined to an endpoint of its cluster.
#ifndef HOLDFAST_EDGE_SERVER_TCP_PROXY_H_
#define HOLDFAST_EDGE_SERVER_TCP_PROXY_H_

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstddef>

#include "edge/server/admission.h"

namespace holdfast::edge {

class Worker;

// Connects `client` to an endpoint of the listener's cluster (after the TLS handshake on a tls
// listener) and copies bytes both ways, with half-close, until both sides are done or the idle
// timeout passes. A connect failure goes to another endpoint, as many times as the cluster has
// endpoints; a cluster over its connection limit, or with nothing to connect to, closes the
// client at once (the L4 way of saying 503).
asio::awaitable<void> TcpSession(Worker& worker, size_t listener, asio::ip::tcp::socket client,
                                 Admission admission);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_TCP_PROXY_H_
