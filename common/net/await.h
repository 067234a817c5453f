// The Asio convention of every daemon (CONVENTIONS.md, "Errors"): coroutines get I/O errors back
// as values, never as exceptions: co_await op(..., kAwait) yields a tuple (error_code, ...).
// Asio 1.22 (bookworm) has as_tuple under experimental/.
#ifndef HOLDFAST_COMMON_NET_AWAIT_H_
#define HOLDFAST_COMMON_NET_AWAIT_H_

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace holdfast {

inline constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_NET_AWAIT_H_
