// The one completion handler for asio::co_spawn (CONVENTIONS.md, "Errors": every co_spawn
// handler checks its exception_ptr).
//
// A coroutine the daemons spawn handles its own I/O errors (common/net/await.h), so one that
// ends by an exception has a bug. LogFailure logs it once, where it is handled, as
//   event=<event> error="<what()>"
// at `level`, and lets the io_context go on: a bug in one session ends that session, not the
// daemon. It never swallows one: an exception that is not a std::exception is logged too, as
// error="unknown exception", rather than dropped or rethrown into io_context::run().
//
//   asio::co_spawn(io, Serve(std::move(socket)), LogFailure("admin.session_failed"));
//
// Copyable and cheap (a view and a level); `event` must outlive it (a string literal). Safe to
// call from any thread (spdlog's default logger is).
#ifndef HOLDFAST_COMMON_NET_SPAWN_H_
#define HOLDFAST_COMMON_NET_SPAWN_H_

#include <spdlog/common.h>

#include <exception>
#include <string>
#include <string_view>

namespace holdfast {

class LogFailure {
 public:
  explicit LogFailure(std::string_view event, spdlog::level::level_enum level = spdlog::level::err)
      : event_(event), level_(level) {}

  // Does nothing for a coroutine that returned.
  void operator()(const std::exception_ptr& e) const;

 private:
  std::string_view event_;
  spdlog::level::level_enum level_;
};

// What `e` holds, for a log line: what() of a std::exception, else "unknown exception"; empty
// for a null `e`.
std::string DescribeException(const std::exception_ptr& e);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_NET_SPAWN_H_
