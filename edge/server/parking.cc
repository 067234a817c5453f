#include "edge/server/parking.h"

#include <malloc.h>

#include <algorithm>
#include <utility>

namespace holdfast::edge {

ParkingLot::ParkingLot(asio::io_context& io, EdgeMetrics& metrics, Resume resume)
    : metrics_(metrics),
      resume_(std::move(resume)),
      parked_(metrics.listener.size()),
      sweep_(io),
      trim_(io) {}

// The sockets close with the lists. Handlers still pending on them are destroyed with the
// io_context without running (it is stopped first), and they touch nothing when destroyed.
ParkingLot::~ParkingLot() {
  for (size_t i = 0; i < parked_.size(); ++i) {
    for (size_t n = parked_[i].size(); n > 0; --n) Dec(metrics_.listener[i].parked);
  }
}

ParkingLot::Warm::Warm(ParkingLot& lot, asio::ip::tcp::socket& socket)
    : lot_(lot), socket_(socket), since_(Clock::now()) {
  lot_.Link(*this);
}

ParkingLot::Warm::~Warm() {
  if (!park_requested_) lot_.Unlink(*this);
}

void ParkingLot::Link(Warm& w) {
  w.prev_ = warm_tail_;
  w.next_ = nullptr;
  (warm_tail_ != nullptr ? warm_tail_->next_ : warm_head_) = &w;
  warm_tail_ = &w;
  if (w.since_ + kParkAfter < sweep_at_) ArmSweep();
}

void ParkingLot::Unlink(Warm& w) {
  (w.prev_ != nullptr ? w.prev_->next_ : warm_head_) = w.next_;
  (w.next_ != nullptr ? w.next_->prev_ : warm_tail_) = w.prev_;
  w.prev_ = w.next_ = nullptr;
}

void ParkingLot::Park(size_t listener, asio::ip::tcp::socket socket, Admission admission,
                      Clock::time_point expires) {
  Cars& cars = parked_[listener];
  cars.push_back(Car{std::move(socket), std::move(admission), expires, listener});
  ++parked_count_;
  Inc(metrics_.listener[listener].parked);
  WaitReadable(std::prev(cars.end()));
  if (++parked_since_trim_ >= kTrimAfterParked && !trim_pending_) {
    // The sessions just parked free their frames and buffers as they end, a moment later.
    trim_pending_ = true;
    trim_.expires_after(std::chrono::milliseconds(500));
    trim_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      trim_pending_ = false;
      parked_since_trim_ = 0;
      malloc_trim(0);
    });
  }
  if (expires < sweep_at_) ArmSweep();
}

void ParkingLot::WaitReadable(Cars::iterator car) {
  // A one-byte peek is a wait for readability that never spins: unlike async_wait, it reports
  // "readable" only when there is a byte (or the end), and the byte stays for the session.
  car->socket.async_receive(asio::buffer(&peek_byte_, 1), asio::socket_base::message_peek,
                            [this, car](const asio::error_code& ec, size_t) { OnPeek(car, ec); });
}

void ParkingLot::OnPeek(Cars::iterator car, const asio::error_code& ec) {
  if (car->closing) {
    closing_.erase(car);
    return;
  }
  Cars& cars = parked_[car->listener];
  --parked_count_;
  Dec(metrics_.listener[car->listener].parked);
  if (ec) {
    // The client closed it (end of stream) or it failed: nothing to serve.
    cars.erase(car);
    return;
  }
  const size_t listener = car->listener;
  asio::ip::tcp::socket socket = std::move(car->socket);
  Admission admission = std::move(car->admission);
  cars.erase(car);
  resume_(listener, std::move(socket), std::move(admission));
}

void ParkingLot::Close(Cars::iterator car) {
  // The peek's handler runs once more (aborted) and frees the car; until then it waits here.
  car->closing = true;
  asio::error_code ignored;
  car->socket.close(ignored);
  car->admission = Admission();
  --parked_count_;
  Dec(metrics_.listener[car->listener].parked);
  closing_.splice(closing_.end(), parked_[car->listener], car);
}

void ParkingLot::CloseAll() {
  for (Cars& cars : parked_) {
    while (!cars.empty()) Close(cars.begin());
  }
  while (warm_head_ != nullptr) {
    Warm& w = *warm_head_;
    Unlink(w);
    w.park_requested_ = true;
    asio::error_code ignored;
    w.socket_.cancel(ignored);
  }
}

void ParkingLot::Sweep() {
  const Clock::time_point now = Clock::now();
  while (warm_head_ != nullptr && warm_head_->since_ + kParkAfter <= now) {
    Warm& w = *warm_head_;
    Unlink(w);
    w.park_requested_ = true;
    asio::error_code ignored;
    w.socket_.cancel(ignored);  // the session's read ends aborted; it parks
  }
  for (Cars& cars : parked_) {
    while (!cars.empty() && cars.front().expires <= now) Close(cars.begin());
  }
  ArmSweep();
}

void ParkingLot::ArmSweep() {
  Clock::time_point next = Clock::time_point::max();
  if (warm_head_ != nullptr) next = warm_head_->since_ + kParkAfter;
  for (const Cars& cars : parked_) {
    if (!cars.empty()) next = std::min(next, cars.front().expires);
  }
  // The timer is touched only when it must wake earlier than it would, or has nothing to wait
  // for: a busy worker links and unlinks warm sessions without timer work.
  if (next >= sweep_at_) return;
  sweep_at_ = next;
  sweep_.expires_at(next);
  sweep_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;  // replaced by an earlier wakeup
    sweep_at_ = Clock::time_point::max();
    Sweep();
  });
}

}  // namespace holdfast::edge
