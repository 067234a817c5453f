// Bounds-checked reading and writing of DNS wire data (CONVENTIONS.md, "Wire codecs").
//
// ByteReader never reads past its span: a read that would sets the first error, returns zero,
// and every later read fails too, so a decoder tests ok() once at the end of a step. ByteWriter
// appends to a std::string it owns and can be rewound to an earlier size (truncation drops
// whole RRsets that way). Neither is thread-safe; both are cheap to create.
#ifndef HOLDFAST_DNS_WIRE_BYTES_H_
#define HOLDFAST_DNS_WIRE_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace holdfast::dns {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  bool ok() const { return error_.empty(); }
  // The first failure, or empty.
  std::string_view error() const { return error_; }
  size_t offset() const { return offset_; }
  size_t remaining() const { return ok() ? data_.size() - offset_ : 0; }
  std::span<const uint8_t> data() const { return data_; }

  // Marks the reader failed with `reason` unless it already failed.
  void Fail(std::string_view reason) {
    if (error_.empty()) error_ = reason;
  }

  uint8_t U8(std::string_view what) {
    if (!Need(1, what)) return 0;
    return data_[offset_++];
  }
  uint16_t U16(std::string_view what) {
    if (!Need(2, what)) return 0;
    const uint16_t v = static_cast<uint16_t>((data_[offset_] << 8) | data_[offset_ + 1]);
    offset_ += 2;
    return v;
  }
  uint32_t U32(std::string_view what) {
    if (!Need(4, what)) return 0;
    const uint32_t v = (uint32_t{data_[offset_]} << 24) | (uint32_t{data_[offset_ + 1]} << 16) |
                       (uint32_t{data_[offset_ + 2]} << 8) | uint32_t{data_[offset_ + 3]};
    offset_ += 4;
    return v;
  }
  // `n` bytes as a view into the span; empty on failure.
  std::span<const uint8_t> Bytes(size_t n, std::string_view what) {
    if (!Need(n, what)) return {};
    std::span<const uint8_t> out = data_.subspan(offset_, n);
    offset_ += n;
    return out;
  }
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
  // Static strings only (the reasons are literals), so no allocation.
  std::string_view error_;
};

class ByteWriter {
 public:
  ByteWriter() = default;

  size_t size() const { return out_.size(); }
  const std::string& data() const { return out_; }
  std::string& mutable_data() { return out_; }
  std::string Release() { return std::move(out_); }
  void Rewind(size_t size) { out_.resize(size); }
  void Clear() { out_.clear(); }

  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) {
    out_.push_back(static_cast<char>(v >> 8));
    out_.push_back(static_cast<char>(v & 0xff));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v & 0xffff));
  }
  void Bytes(std::string_view b) { out_.append(b); }
  void Bytes(std::span<const uint8_t> b) {
    out_.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  // Overwrites two bytes already written (RDLENGTH, header counts).
  void PatchU16(size_t at, uint16_t v) {
    out_[at] = static_cast<char>(v >> 8);
    out_[at + 1] = static_cast<char>(v & 0xff);
  }

 private:
  std::string out_;
};

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_WIRE_BYTES_H_
