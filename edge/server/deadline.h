// The one timer of a proxied connection: when its deadline passes, it cancels the I/O of the
// sockets it guards.
#ifndef HOLDFAST_EDGE_SERVER_DEADLINE_H_
#define HOLDFAST_EDGE_SERVER_DEADLINE_H_

#include <asio/basic_waitable_timer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <memory>

#include "absl/time/time.h"

namespace holdfast::edge {

// Cancels the I/O on the sockets it guards when its deadline passes, which ends whatever the
// session waits for with operation_aborted; `fired` tells the session why. Re-armed by the
// session for each phase. Arming is cheap on purpose: it only moves the deadline, and the timer
// is touched only when the new deadline is earlier than the one it sleeps towards, so a request
// costs about one timer wakeup, not one per phase. A plain completion handler, not a coroutine:
// an idle connection holds one timer wait, nothing more. One per session, on the session's
// worker; the handler holds it weakly, so it may go while a wait is pending.
class Deadline : public std::enable_shared_from_this<Deadline> {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Deadline(asio::io_context& io) : timer_(io) {}

  // A Deadline armed for nothing yet, waiting on `io`.
  static std::shared_ptr<Deadline> Start(asio::io_context& io);

  // At `d` from now, cancels the I/O of `s` and `second` (when given).
  void Arm(absl::Duration d, asio::ip::tcp::socket* s, asio::ip::tcp::socket* second = nullptr);
  // Nothing is cancelled until the next Arm.
  void Disarm() { at_ = Clock::time_point::max(); }
  // The session is done: the pending wait ends.
  void Finish();

  asio::ip::tcp::socket* target = nullptr;
  asio::ip::tcp::socket* also = nullptr;
  bool fired = false;

 private:
  using Timer =
      asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, asio::io_context::executor_type>;

  void Wait();
  void OnTimer();

  Timer timer_;
  Clock::time_point at_ = Clock::time_point::max();
};

// Finishes a Deadline when the scope that started it ends, however it ends.
class DeadlineScope {
 public:
  explicit DeadlineScope(asio::io_context& io) : deadline_(Deadline::Start(io)) {}
  ~DeadlineScope() { deadline_->Finish(); }
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

  Deadline& operator*() const { return *deadline_; }
  Deadline* operator->() const { return deadline_.get(); }

 private:
  std::shared_ptr<Deadline> deadline_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_DEADLINE_H_
