// A request at its cluster's gate (edge/overload/gate.h), on a worker's loop: a ticket at once,
// or a place in the gate's queue awaited until its deadline (the gate hands the place over from
// whichever worker freed it), or the refusal.
#ifndef HOLDFAST_EDGE_SERVER_GATE_WAIT_H_
#define HOLDFAST_EDGE_SERVER_GATE_WAIT_H_

#include <asio/awaitable.hpp>
#include <variant>

#include "edge/overload/gate.h"

namespace holdfast::edge {

asio::awaitable<std::variant<ClusterGate::Ticket, ClusterGate::Refusal>> PassGate(
    ClusterGate& gate, Priority priority);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_GATE_WAIT_H_
