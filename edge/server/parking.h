// Idle keep-alive connections of one worker, kept small.
//
// A plain-HTTP connection waiting for its next request first stays warm: its session's
// coroutine frames, buffer and parser stay, so a client that sends its next request soon (a
// busy keep-alive connection) pays nothing extra. Idle for longer than kParkAfter, it is parked:
// the session ends, the descriptor leaves Asio (whose per-socket state goes back to its pool
// for the next connection) for the lot's own epoll set, and what is left in memory is a 48-byte
// record: the descriptor, its place in the connection counts (Admission) and its expiry.
// HAProxy keeps about 1.3 KiB per idle connection; a few KiB would be the session's.
// When the client sends again, the lot hands the descriptor to a new session; when the client
// closes, or the idle timeout passes, or the edge drains, the connection closes. Nothing the
// client sent is lost: the lot only peeks.
//
// Used on its worker's thread only, whose io_context runs on that one thread (the lot's wait on
// its epoll set relies on it: see Poll()).
#ifndef HOLDFAST_EDGE_SERVER_PARKING_H_
#define HOLDFAST_EDGE_SERVER_PARKING_H_

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "edge/server/admission.h"

namespace holdfast::edge {

class ParkingLot {
 public:
  using Clock = std::chrono::steady_clock;
  // How long an idle connection stays warm before it is parked.
  static constexpr Clock::duration kParkAfter = std::chrono::milliseconds(100);
  // Connections parked before the lot gives freed memory back to the system.
  static constexpr size_t kTrimAfterParked = 256;
  // Starts a session for a parked connection that became readable.
  using Resume = std::function<void(size_t listener, asio::ip::tcp::socket, Admission)>;

  // Aborts when the system has no epoll descriptor left for it (at start, like the io_context).
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

  // Holds `socket` (no read pending on it) until the client sends (then Resume), closes it,
  // `expires` passes or CloseAll(). Cheap: one epoll_ctl.
  void Park(size_t listener, asio::ip::tcp::socket socket, Admission admission,
            Clock::time_point expires);
  // Draining: closes every parked connection and asks every warm one to go.
  void CloseAll();

  size_t parked() const { return parked_count_; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  // A parked connection, or a free slot (fd -1).
  struct Car {
    Admission admission;
    Clock::time_point expires;
    int fd = -1;
    uint32_t listener = 0;
    // Counts the slot's occupants, so an event meant for an earlier one is ignored.
    uint32_t generation = 0;
    // The listener's queue (oldest first); for a free slot, `next` is the next free one.
    uint32_t prev = kNone;
    uint32_t next = kNone;
  };
  struct Queue {
    uint32_t head = kNone;
    uint32_t tail = kNone;
  };
  // Slots come in chunks that never move (a burst costs no copying) and are kept for reuse.
  // Each chunk is a mapping of its own, touched slot by slot as it fills: in the heap, the
  // slots would be islands among the freed memory of the sessions that parked, and would keep
  // its pages resident.
  static constexpr uint32_t kCarsPerChunk = 4096;
  struct Unmap {
    void operator()(Car* cars) const;
  };

  Car& car(uint32_t i) { return chunks_[i / kCarsPerChunk].get()[i % kCarsPerChunk]; }
  uint32_t Allocate();
  // Unlinks the car from its queue and frees its slot; the descriptor is the caller's.
  void Free(uint32_t i);
  void Close(uint32_t i);
  // Waits for the epoll set to have events, once; OnEvents takes them all.
  void Poll();
  void OnEvents();
  void OnEvent(uint32_t i, uint32_t generation);
  void Link(Warm& w);
  void Unlink(Warm& w);
  // Parks-requests warm sessions idle for kParkAfter, closes parked ones past their expiry.
  void Sweep();
  void ArmSweep();

  asio::io_context& io_;
  EdgeMetrics& metrics_;
  Resume resume_;
  // Warm sessions, oldest first (each is linked when it becomes idle).
  Warm* warm_head_ = nullptr;
  Warm* warm_tail_ = nullptr;
  std::vector<std::unique_ptr<Car, Unmap>> chunks_;
  // Slots constructed so far; those past it in the last chunk are untouched.
  uint32_t constructed_ = 0;
  uint32_t free_ = kNone;
  // Parked connections by listener, in the order they were parked: with one idle timeout per
  // listener, also the order they expire in. (A reload that shortens a timeout closes the
  // newer ones late by at most the difference, until the older ones have gone.)
  std::vector<Queue> queues_;
  size_t parked_count_ = 0;
  // The epoll set of the parked descriptors (level-triggered: a byte or the end), itself
  // registered with the io_context.
  asio::posix::stream_descriptor poller_;
  bool polling_ = false;
  asio::steady_timer sweep_;
  Clock::time_point sweep_at_ = Clock::time_point::max();
  // After many connections parked, what their sessions freed is given back to the system
  // (malloc_trim) once they are gone: otherwise the heap keeps the high-water mark of a burst.
  asio::steady_timer trim_;
  size_t parked_since_trim_ = 0;
  bool trim_pending_ = false;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_PARKING_H_
