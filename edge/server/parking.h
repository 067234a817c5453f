// Idle keep-alive connections of one worker, kept small.
//
// A plain-HTTP connection waiting for its next request first stays warm: its session's
// coroutine frames, buffer and parser stay, so a client that sends its next request soon (a
// busy keep-alive connection) pays nothing extra. Idle for longer than kParkAfter, it is parked:
// the session ends and what is left is the socket, its place in the connection counts
// (Admission) and one peek waiting for the next byte, a few hundred bytes in all instead of
// a few KiB. When the byte comes, the lot hands the socket to a new session; when the client
// closes, or the idle timeout passes, or the edge drains, the connection closes. Nothing the
// client sent is lost: the peek leaves the byte in the socket.
//
// Used on its worker's thread only.
#ifndef HOLDFAST_EDGE_SERVER_PARKING_H_
#define HOLDFAST_EDGE_SERVER_PARKING_H_

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <vector>

#include "edge/server/metrics.h"

namespace holdfast::edge {

// A connection's place in the counts of open connections (its listener's active gauge and the
// daemon's total). Whoever holds the connection holds it: a session, or the parking lot while
// the connection is parked. The counts go down when it goes. Move-only.
class Admission {
 public:
  Admission() = default;
  Admission(ListenerMetrics& listener, std::atomic<int64_t>& open)
      : listener_(&listener), open_(&open) {
    Inc(listener_->active);
    open_->fetch_add(1, std::memory_order_relaxed);
  }
  Admission(Admission&& other) noexcept
      : listener_(std::exchange(other.listener_, nullptr)),
        open_(std::exchange(other.open_, nullptr)) {}
  Admission& operator=(Admission&& other) noexcept {
    if (this != &other) {
      Release();
      listener_ = std::exchange(other.listener_, nullptr);
      open_ = std::exchange(other.open_, nullptr);
    }
    return *this;
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission() { Release(); }

 private:
  void Release() {
    if (listener_ == nullptr) return;
    Dec(listener_->active);
    open_->fetch_sub(1, std::memory_order_relaxed);
    listener_ = nullptr;
  }

  ListenerMetrics* listener_ = nullptr;
  std::atomic<int64_t>* open_ = nullptr;
};

class ParkingLot {
 public:
  using Clock = std::chrono::steady_clock;
  // How long an idle connection stays warm before it is parked.
  static constexpr Clock::duration kParkAfter = std::chrono::milliseconds(100);
  // Connections parked before the lot gives freed memory back to the system.
  static constexpr size_t kTrimAfterParked = 256;
  // Starts a session for a parked connection that became readable.
  using Resume = std::function<void(size_t listener, asio::ip::tcp::socket, Admission)>;

  ParkingLot(asio::io_context& io, EdgeMetrics& metrics, Resume resume);
  ~ParkingLot();
  ParkingLot(const ParkingLot&) = delete;
  ParkingLot& operator=(const ParkingLot&) = delete;

  // A session waiting for its next request: linked into the lot for as long as it lives. When
  // it has been idle for kParkAfter, the lot cancels the socket's read and park_requested()
  // says why; the session then calls Park(). Lives in the session's frame.
  class Warm {
   public:
    Warm(ParkingLot& lot, asio::ip::tcp::socket& socket);
    ~Warm();
    Warm(const Warm&) = delete;
    Warm& operator=(const Warm&) = delete;

    bool park_requested() const { return park_requested_; }
    // When the connection became idle.
    Clock::time_point since() const { return since_; }

   private:
    friend class ParkingLot;
    ParkingLot& lot_;
    asio::ip::tcp::socket& socket_;
    Clock::time_point since_;
    bool park_requested_ = false;
    Warm* prev_ = nullptr;
    Warm* next_ = nullptr;
  };

  // Holds `socket` until it is readable (then Resume), the client closes it, `expires` passes
  // or CloseAll(). Cheap to call: no syscall beyond the peek.
  void Park(size_t listener, asio::ip::tcp::socket socket, Admission admission,
            Clock::time_point expires);
  // Draining: closes every parked connection and asks every warm one to go.
  void CloseAll();

  size_t parked() const { return parked_count_; }

 private:
  struct Car {
    asio::ip::tcp::socket socket;
    Admission admission;
    Clock::time_point expires;
    size_t listener;
    bool closing = false;
  };
  using Cars = std::list<Car>;

  void Link(Warm& w);
  void Unlink(Warm& w);
  void WaitReadable(Cars::iterator car);
  void OnPeek(Cars::iterator car, const asio::error_code& ec);
  void Close(Cars::iterator car);
  // Parks-requests warm sessions idle for kParkAfter, closes parked ones past their expiry.
  void Sweep();
  void ArmSweep();

  EdgeMetrics& metrics_;
  Resume resume_;
  // Warm sessions, oldest first (each is linked when it becomes idle).
  Warm* warm_head_ = nullptr;
  Warm* warm_tail_ = nullptr;
  // Parked connections by listener, in the order they were parked: with one idle timeout per
  // listener, also the order they expire in. (A reload that shortens a timeout closes the
  // newer ones late by at most the difference, until the older ones have gone.)
  std::vector<Cars> parked_;
  size_t parked_count_ = 0;
  // Closed, waiting for their peek's handler, which frees them.
  Cars closing_;
  asio::steady_timer sweep_;
  Clock::time_point sweep_at_ = Clock::time_point::max();
  // After many connections parked, what their sessions freed is given back to the system
  // (malloc_trim) once they are gone: otherwise the heap keeps the high-water mark of a burst.
  asio::steady_timer trim_;
  size_t parked_since_trim_ = 0;
  bool trim_pending_ = false;
  // Where the peeks put the byte they see; never read.
  char peek_byte_ = 0;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_PARKING_H_
