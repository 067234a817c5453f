// Whether every worker's event loop is alive. Each loop stamps its slot every kBeat; a slot
// left unstamped for kWedgedAfter means that loop is stuck (a request that never yields, a
// blocking call): the connections its acceptor admitted are never served, while the process,
// its BGP sessions and its reports live on. The health report says so (listeners_up false)
// instead of the node looking able to serve. Thread-safe: relaxed atomics.
#ifndef HOLDFAST_EDGE_SERVER_WATCHDOG_H_
#define HOLDFAST_EDGE_SERVER_WATCHDOG_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace holdfast::edge {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kBeat{250};
  static constexpr std::chrono::milliseconds kWedgedAfter{2000};

  explicit Watchdog(size_t workers) : beats_(workers) {}

  // Worker `worker`'s loop ran at `now`.
  void Beat(size_t worker, Clock::time_point now) {
    beats_[worker].store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }

  // The workers that have beaten once and not since kWedgedAfter before `now`. A worker that
  // has not started yet is not counted.
  size_t Wedged(Clock::time_point now) const {
    const Clock::rep limit = (now - kWedgedAfter).time_since_epoch().count();
    size_t wedged = 0;
    for (const std::atomic<Clock::rep>& b : beats_) {
      const Clock::rep last = b.load(std::memory_order_relaxed);
      if (last != 0 && last < limit) ++wedged;
    }
    return wedged;
  }

  size_t workers() const { return beats_.size(); }

 private:
  std::vector<std::atomic<Clock::rep>> beats_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_WATCHDOG_H_
