// A new connection to a cluster's endpoint, within the cluster's connect_timeout.
#ifndef HOLDFAST_EDGE_SERVER_UPSTREAM_CONNECT_H_
#define HOLDFAST_EDGE_SERVER_UPSTREAM_CONNECT_H_

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cstddef>
#include <optional>
#include <utility>

#include "edge/config/edge_config.h"
#include "edge/server/deadline.h"

namespace holdfast::edge {

enum class ConnectOutcome { kOk, kFailed, kTimedOut };

// Connects to endpoint `endpoint` of `cluster` (TCP_NODELAY set), using `deadline` for the
// timeout; the socket is there only with kOk.
asio::awaitable<std::pair<ConnectOutcome, std::optional<asio::ip::tcp::socket>>> Connect(
    asio::io_context& io, const ClusterConfig& cluster, size_t endpoint, Deadline& deadline);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_UPSTREAM_CONNECT_H_
