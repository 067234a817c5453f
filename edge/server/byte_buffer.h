// A connection's receive buffer: bytes read but not yet consumed. Unlike std::string it never
// zero-fills the space it reads into, consumes from the front without moving bytes (they move
// only when space runs out), and can give its memory back while the connection is idle.
// Not thread-safe: one per connection.
#ifndef HOLDFAST_EDGE_SERVER_BYTE_BUFFER_H_
#define HOLDFAST_EDGE_SERVER_BYTE_BUFFER_H_

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace holdfast::edge {

class ByteBuffer {
 public:
  // The first allocation: enough for a typical request head in one read.
  static constexpr size_t kInitialCapacity = 1024;
  // The most one read asks for.
  static constexpr size_t kMaxRead = 64 * 1024;

  bool empty() const { return begin_ == end_; }
  size_t size() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data_.get() + begin_, size()}; }

  // Space for the next read after the unconsumed bytes: at least `want` (at most kMaxRead)
  // bytes, more if the buffer has it. Heads are read with the default; bodies, which stream
  // through, ask for more so they move in large reads.
  std::span<char> Prepare(size_t want = kInitialCapacity / 2) {
    if (want > kMaxRead) want = kMaxRead;
    if (capacity_ - end_ < want) MakeRoom(want);
    const size_t free = capacity_ - end_;
    return {data_.get() + end_, free < kMaxRead ? free : kMaxRead};
  }
  void Commit(size_t n) { end_ += n; }
  void Consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void Clear() { begin_ = end_ = 0; }
  // Gives the memory back when nothing is buffered.
  void Release() {
    if (!empty()) return;
    data_.reset();
    capacity_ = begin_ = end_ = 0;
  }

 private:
  void MakeRoom(size_t want) {
    const size_t used = size();
    if (capacity_ - used >= want) {
      // Moving the unconsumed bytes to the front is enough.
      std::memmove(data_.get(), data_.get() + begin_, used);
    } else {
      size_t capacity = capacity_ < kInitialCapacity ? kInitialCapacity : capacity_;
      while (capacity - used < want) capacity *= 2;
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
      if (used > 0) std::memcpy(bigger.get(), data_.get() + begin_, used);
      data_ = std::move(bigger);
      capacity_ = capacity;
    }
    begin_ = 0;
    end_ = used;
  }

  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_BYTE_BUFFER_H_
