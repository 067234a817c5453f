// Bounds-checked big-endian reading and writing for the BGP codec. Internal to bgp/wire.
//
// ByteReader never reads past its span: a short read sets a sticky error flag and returns zeros,
// so a decoder can read a whole fixed part and test ok() once (CONVENTIONS.md, "Wire codecs").
#ifndef HOLDFAST_BGP_WIRE_INTERNAL_BYTE_IO_H_
#define HOLDFAST_BGP_WIRE_INTERNAL_BYTE_IO_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace holdfast::bgp::internal {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  bool empty() const { return remaining() == 0; }
  size_t position() const { return pos_; }

  uint8_t U8() {
    if (!Need(1)) return 0;
    return data_[pos_++];
  }
  uint16_t U16() {
    if (!Need(2)) return 0;
    const uint16_t v = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    const uint32_t v = (uint32_t{data_[pos_]} << 24) | (uint32_t{data_[pos_ + 1]} << 16) |
                       (uint32_t{data_[pos_ + 2]} << 8) | uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  // The next `n` bytes; an empty span (and the error flag) when fewer remain.
  std::span<const uint8_t> Bytes(size_t n) {
    if (!Need(n)) return {};
    std::span<const uint8_t> s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::span<const uint8_t> Rest() { return Bytes(remaining()); }

 private:
  bool Need(size_t n) {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  size_t size() const { return out_.size(); }
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v));
  }
  void Bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // Writes `v` at `pos` (a placeholder written earlier), for length fields known only later.
  void PatchU16(size_t pos, uint16_t v) {
    out_[pos] = static_cast<uint8_t>(v >> 8);
    out_[pos + 1] = static_cast<uint8_t>(v);
  }
  void PatchU8(size_t pos, uint8_t v) { out_[pos] = v; }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace holdfast::bgp::internal

#endif  // HOLDFAST_BGP_WIRE_INTERNAL_BYTE_IO_H_
