#include "edge/server/deadline.h"

namespace holdfast::edge {

std::shared_ptr<Deadline> Deadline::Start(asio::io_context& io) {
  auto d = std::make_shared<Deadline>(io);
  d->timer_.expires_at(Clock::time_point::max());
  d->Wait();
  return d;
}

void Deadline::Arm(absl::Duration d, asio::ip::tcp::socket* s, asio::ip::tcp::socket* second) {
  target = s;
  also = second;
  fired = false;
  at_ = Clock::now() + absl::ToChronoNanoseconds(d);
  if (at_ < timer_.expiry()) {
    timer_.expires_at(at_);  // the pending wait ends aborted; this one replaces it
    Wait();
  }
}

void Deadline::Finish() {
  target = also = nullptr;
  at_ = Clock::time_point::max();
  timer_.cancel();
}

void Deadline::Wait() {
  timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    if (ec) return;  // replaced by a nearer deadline, or finished
    if (const std::shared_ptr<Deadline> d = weak.lock()) d->OnTimer();
  });
}

void Deadline::OnTimer() {
  if (Clock::now() < at_) {
    timer_.expires_at(at_);  // the deadline moved on while the timer slept
    Wait();
    return;
  }
  fired = true;
  asio::error_code ignored;
  if (target != nullptr) target->cancel(ignored);
  if (also != nullptr) also->cancel(ignored);
  at_ = Clock::time_point::max();
  timer_.expires_at(at_);
  Wait();
}

}  // namespace holdfast::edge
