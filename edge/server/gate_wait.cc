#include "edge/server/gate_wait.h"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "common/net/await.h"

namespace holdfast::edge {
namespace {

// Waits on its loop's timer; the gate's Admitted() posts the ticket to that loop and ends the
// wait. Once the waiting coroutine is gone (its loop stopped, the daemon exits), a place still
// handed over is given back at once instead of posted to a loop that may be gone too.
class LoopWaiter : public ClusterGate::Waiter, public std::enable_shared_from_this<LoopWaiter> {
 public:
  explicit LoopWaiter(const asio::any_io_executor& executor) : timer_(executor) {}

  void Admitted(ClusterGate::Ticket ticket) override {
    std::lock_guard lock(mu_);
    if (!waiting_) return;  // `ticket` goes here, and with it the place
    asio::post(timer_.get_executor(), [self = shared_from_this(), t = std::move(ticket)]() mutable {
      self->ticket_ = std::move(t);
      self->timer_.cancel();
    });
  }

  // The coroutine is done with the gate, or destroyed while it waited.
  void StopWaiting() {
    std::lock_guard lock(mu_);
    waiting_ = false;
  }

  // Until the ticket came or `until` passed.
  asio::awaitable<void> Wait(SteadyTime until) {
    if (ticket_.has_value()) co_return;
    timer_.expires_at(until);
    co_await timer_.async_wait(kAwait);
  }

  std::optional<ClusterGate::Ticket>& ticket() { return ticket_; }

 private:
  asio::steady_timer timer_;
  std::optional<ClusterGate::Ticket> ticket_;
  std::mutex mu_;
  bool waiting_ = true;
};

// In the waiting coroutine's frame: if the frame is destroyed while queued (its loop stopped),
// the request leaves the queue and no place is posted to it.
class LeaveQueueOnExit {
 public:
  LeaveQueueOnExit(ClusterGate& gate, uint64_t id, LoopWaiter& waiter)
      : gate_(gate), id_(id), waiter_(waiter) {}
  LeaveQueueOnExit(const LeaveQueueOnExit&) = delete;
  LeaveQueueOnExit& operator=(const LeaveQueueOnExit&) = delete;
  ~LeaveQueueOnExit() {
    waiter_.StopWaiting();
    if (armed_) gate_.Abandon(id_, std::chrono::steady_clock::now());
  }
  void Disarm() { armed_ = false; }

 private:
  ClusterGate& gate_;
  uint64_t id_;
  LoopWaiter& waiter_;
  bool armed_ = true;
};

}  // namespace

asio::awaitable<std::variant<ClusterGate::Ticket, ClusterGate::Refusal>> PassGate(
    ClusterGate& gate, Priority priority) {
  auto waiter = std::make_shared<LoopWaiter>(co_await asio::this_coro::executor);
  auto decision = gate.Admit(std::chrono::steady_clock::now(), priority, waiter);
  if (auto* ticket = std::get_if<ClusterGate::Ticket>(&decision)) co_return std::move(*ticket);
  if (auto* refusal = std::get_if<ClusterGate::Refusal>(&decision)) co_return *refusal;
  const ClusterGate::Queued queued = std::get<ClusterGate::Queued>(decision);
  LeaveQueueOnExit leave(gate, queued.id, *waiter);
  co_await waiter->Wait(queued.deadline);
  if (!waiter->ticket().has_value()) {
    leave.Disarm();
    if (auto refusal = gate.Abandon(queued.id, std::chrono::steady_clock::now())) {
      co_return *refusal;
    }
    // Given a place as the deadline passed: the ticket is posted to this loop, and nothing
    // runs here between the check above and the wait below, so the post cannot be missed.
    while (!waiter->ticket().has_value()) co_await waiter->Wait(SteadyTime::max());
  }
  leave.Disarm();
  co_return std::move(*waiter->ticket());
}

}  // namespace holdfast::edge
