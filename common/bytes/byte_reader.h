// Bounds-checked big-endian reading of wire data, for every codec (CONVENTIONS.md, "Wire codecs").
//
// ByteReader never reads past its span. A read that would fails the reader with the reason the
// caller named, returns zero (or an empty span), and every later read fails too, so a decoder
// reads a whole step and tests ok() once at the end; error() is the first failure's reason.
// Reasons are string literals (or other strings that outlive the reader): the reader keeps a
// view, so it never allocates. Inline throughout: the DNS decoder runs it per query. Not
// thread-safe; cheap to create, and meant to live on the stack.
#ifndef HOLDFAST_COMMON_BYTES_BYTE_READER_H_
#define HOLDFAST_COMMON_BYTES_BYTE_READER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace holdfast {

class ByteReader {
 public:
  // The reason of a failed read whose caller named none.
  static constexpr std::string_view kShortRead = "short read";

  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  bool ok() const { return error_.empty(); }
  // The first failure's reason, or empty while ok().
  std::string_view error() const { return error_; }
  // Octets read so far from the start of the span.
  size_t offset() const { return offset_; }
  // Octets left to read; 0 once failed.
  size_t remaining() const { return ok() ? data_.size() - offset_ : 0; }
  bool empty() const { return remaining() == 0; }
  std::span<const uint8_t> data() const { return data_; }

  // Fails the reader with `reason` unless it already failed (the first reason stays).
  void Fail(std::string_view reason) {
    if (ok()) error_ = reason.empty() ? kShortRead : reason;
  }

  uint8_t U8(std::string_view what = kShortRead) {
    if (!Need(1, what)) return 0;
    return data_[offset_++];
  }
  uint16_t U16(std::string_view what = kShortRead) {
    if (!Need(2, what)) return 0;
    const uint16_t v = static_cast<uint16_t>((data_[offset_] << 8) | data_[offset_ + 1]);
    offset_ += 2;
    return v;
  }
  uint32_t U32(std::string_view what = kShortRead) {
    if (!Need(4, what)) return 0;
    const uint32_t v = (uint32_t{data_[offset_]} << 24) | (uint32_t{data_[offset_ + 1]} << 16) |
                       (uint32_t{data_[offset_ + 2]} << 8) | uint32_t{data_[offset_ + 3]};
    offset_ += 4;
    return v;
  }
  // The next `n` octets as a view into the span; empty on failure.
  std::span<const uint8_t> Bytes(size_t n, std::string_view what = kShortRead) {
    if (!Need(n, what)) return {};
    std::span<const uint8_t> out = data_.subspan(offset_, n);
    offset_ += n;
    return out;
  }
  // Everything not read yet; empty once failed.
  std::span<const uint8_t> Rest() { return Bytes(remaining()); }
  // Moves to `offset` from the start (DNS compression pointers); past the end fails.
  void Seek(size_t offset) {
    if (offset > data_.size()) {
      Fail("seek past the end");
      return;
    }
    offset_ = offset;
  }

 private:
  bool Need(size_t n, std::string_view what) {
    if (!ok()) return false;
    if (data_.size() - offset_ < n) {
      Fail(what);
      return false;
    }
    return true;
  }

  std::span<const uint8_t> data_;
  size_t offset_ = 0;
  std::string_view error_;  // empty while ok()
};

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_BYTES_BYTE_READER_H_
