// Asio conventions of the edge (CONVENTIONS.md, "Errors"): coroutines get I/O errors back as
// values, never as exceptions. Asio 1.22 (bookworm) has as_tuple under experimental/.
#ifndef HOLDFAST_EDGE_SERVER_IO_H_
#define HOLDFAST_EDGE_SERVER_IO_H_

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace holdfast::edge {

inline constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_IO_H_
