// A connection's place in the counts of open connections: what the accept loop admitted and the
// listener's max_connections bounds.
#ifndef HOLDFAST_EDGE_SERVER_ADMISSION_H_
#define HOLDFAST_EDGE_SERVER_ADMISSION_H_

#include <atomic>
#include <cstdint>
#include <utility>

#include "edge/server/metrics.h"

namespace holdfast::edge {

// Counts one connection in its listener's active gauge and the daemon's total while it lives.
// Whoever holds the connection holds it: a session, or the parking lot while the connection is
// parked. The counts go down when it goes. Move-only.
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

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_ADMISSION_H_
