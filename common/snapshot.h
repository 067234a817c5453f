// An immutable value that one thread replaces while others read it (CONVENTIONS.md, "Values and
// snapshots"). Readers take the pointer once per event and keep it for the event's duration, so
// they never see a half-applied change; the old value lives until its last reader lets go.
// Thread-safe.
#ifndef HOLDFAST_COMMON_SNAPSHOT_H_
#define HOLDFAST_COMMON_SNAPSHOT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

namespace holdfast {

template <typename T>
class Snapshot {
 public:
  Snapshot() = default;
  explicit Snapshot(std::shared_ptr<const T> initial) : current_(std::move(initial)) {}

  std::shared_ptr<const T> Current() const { return current_.load(std::memory_order_acquire); }
  void Set(std::shared_ptr<const T> next) {
    current_.store(std::move(next), std::memory_order_release);
    sequence_.fetch_add(1, std::memory_order_release);
  }
  // Goes up with every Set(). A reader on a hot path compares it with the last one it saw (one
  // plain atomic load) and takes Current() only when it moved.
  uint64_t sequence() const { return sequence_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::shared_ptr<const T>> current_;
  std::atomic<uint64_t> sequence_{0};
};

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_SNAPSHOT_H_
