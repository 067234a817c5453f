#include "edge/server/parking.h"

#include <malloc.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

uint64_t Key(uint32_t index, uint32_t generation) {
  return (static_cast<uint64_t>(generation) << 32) | index;
}

int NewEpoll() {
  const int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) {
    // As for the io_context's own epoll descriptor: nothing a worker can do without one.
    spdlog::critical("event=edge.parking_failed error=\"epoll_create1: {}\"", std::strerror(errno));
    std::abort();
  }
  return fd;
}

}  // namespace

ParkingLot::ParkingLot(asio::io_context& io, EdgeMetrics& metrics, Resume resume)
    : io_(io),
      metrics_(metrics),
      resume_(std::move(resume)),
      queues_(metrics.listener.size()),
      poller_(io, NewEpoll()),
      sweep_(io),
      trim_(io) {}

// The descriptors close here; the epoll set closes with poller_. Its pending wait, if any, is
// destroyed with the io_context without running (it is stopped first) and touches nothing.
ParkingLot::~ParkingLot() {
  for (Queue& q : queues_) {
    while (q.head != kNone) Close(q.head);
  }
  for (uint32_t i = 0; i < constructed_; ++i) std::destroy_at(&car(i));
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

// The slots are destroyed by ~ParkingLot, which knows how many were constructed.
void ParkingLot::Unmap::operator()(Car* cars) const { munmap(cars, kCarsPerChunk * sizeof(Car)); }

uint32_t ParkingLot::Allocate() {
  if (free_ != kNone) {
    const uint32_t i = free_;
    free_ = car(i).next;
    return i;
  }
  if (constructed_ == chunks_.size() * kCarsPerChunk) {
    void* memory = mmap(nullptr, kCarsPerChunk * sizeof(Car), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::bad_alloc();
    chunks_.emplace_back(static_cast<Car*>(memory));
  }
  const uint32_t i = constructed_++;
  new (&car(i)) Car();
  return i;
}

void ParkingLot::Free(uint32_t i) {
  Car& c = car(i);
  Queue& q = queues_[c.listener];
  (c.prev != kNone ? car(c.prev).next : q.head) = c.next;
  (c.next != kNone ? car(c.next).prev : q.tail) = c.prev;
  c.admission = Admission();
  c.fd = -1;
  ++c.generation;
  c.prev = kNone;
  c.next = free_;
  free_ = i;
  --parked_count_;
  Dec(metrics_.listener[c.listener].parked);
}

void ParkingLot::Park(size_t listener, asio::ip::tcp::socket socket, Admission admission,
                      Clock::time_point expires) {
  // Out of Asio's reactor: its per-descriptor state goes back to its pool, for the next
  // connection accepted or resumed.
  asio::error_code ec;
  const int fd = socket.release(ec);
  if (ec) return;  // the socket closes with the object, the admission with the argument
  const uint32_t i = Allocate();
  Car& c = car(i);
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.u64 = Key(i, c.generation);
  if (epoll_ctl(poller_.native_handle(), EPOLL_CTL_ADD, fd, &event) != 0) {
    // ENOMEM or the user's epoll watch limit: the connection cannot wait here.
    spdlog::warn("event=edge.park_failed error=\"epoll_ctl: {}\"", std::strerror(errno));
    ::close(fd);
    c.next = free_;
    free_ = i;
    return;
  }
  c.fd = fd;
  c.listener = static_cast<uint32_t>(listener);
  c.expires = expires;
  c.admission = std::move(admission);
  Queue& q = queues_[listener];
  c.prev = q.tail;
  c.next = kNone;
  (q.tail != kNone ? car(q.tail).next : q.head) = i;
  q.tail = i;
  ++parked_count_;
  Inc(metrics_.listener[listener].parked);
  Poll();
  if (++parked_since_trim_ >= kTrimAfterParked && !trim_pending_) {
    // The sessions just parked free their frames and buffers as they end, a moment later.
    trim_pending_ = true;
    trim_.expires_after(std::chrono::milliseconds(500));
    trim_.async_wait([this](const asio::error_code& error) {
      if (error) return;
      trim_pending_ = false;
      parked_since_trim_ = 0;
      malloc_trim(0);
    });
  }
  if (expires < sweep_at_) ArmSweep();
}

void ParkingLot::Poll() {
  if (polling_ || parked_count_ == 0) return;
  // Asio registers the epoll set edge-triggered and an async_wait never looks before it
  // waits. Nothing is missed all the same: the io_context runs on this one thread, so no
  // event can be reported between OnEvents emptying the set and this wait being queued.
  polling_ = true;
  poller_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const asio::error_code& ec) {
    polling_ = false;
    if (ec) return;
    OnEvents();
    Poll();
  });
}

void ParkingLot::OnEvents() {
  std::array<epoll_event, 64> events;
  for (;;) {
    const int n =
        epoll_wait(poller_.native_handle(), events.data(), static_cast<int>(events.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    for (int k = 0; k < n; ++k) {
      const uint64_t key = events[static_cast<size_t>(k)].data.u64;
      OnEvent(static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32));
    }
    if (n < static_cast<int>(events.size())) return;
  }
}

void ParkingLot::OnEvent(uint32_t i, uint32_t generation) {
  Car& c = car(i);
  if (c.fd < 0 || c.generation != generation) return;  // closed since
  // A byte (left for the session), the end of the stream, or an error.
  char byte = 0;
  const ssize_t n = ::recv(c.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;  // EWOULDBLOCK is EAGAIN
  if (n <= 0) {
    Close(i);
    return;
  }
  const int fd = c.fd;
  const size_t listener = c.listener;
  Admission admission = std::move(c.admission);
  epoll_ctl(poller_.native_handle(), EPOLL_CTL_DEL, fd, nullptr);
  Free(i);
  int domain = 0;
  socklen_t size = sizeof(domain);
  asio::error_code ec;
  asio::ip::tcp::socket socket(io_);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0) {
    ec = asio::error_code(errno, asio::error::get_system_category());
  } else {
    socket.assign(domain == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd, ec);
  }
  if (ec) {
    spdlog::warn("event=edge.resume_failed error=\"{}\"", ec.message());
    ::close(fd);
    return;
  }
  resume_(listener, std::move(socket), std::move(admission));
}

void ParkingLot::Close(uint32_t i) {
  // Closing the descriptor also takes it out of the epoll set (it has no duplicate).
  ::close(car(i).fd);
  Free(i);
}

void ParkingLot::CloseAll() {
  for (Queue& q : queues_) {
    while (q.head != kNone) Close(q.head);
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
  for (Queue& q : queues_) {
    while (q.head != kNone && car(q.head).expires <= now) Close(q.head);
  }
  ArmSweep();
}

void ParkingLot::ArmSweep() {
  Clock::time_point next = Clock::time_point::max();
  if (warm_head_ != nullptr) next = warm_head_->since_ + kParkAfter;
  for (const Queue& q : queues_) {
    if (q.head != kNone) next = std::min(next, car(q.head).expires);
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
