// Big-endian writing of wire data, for every codec (CONVENTIONS.md, "Wire codecs").
//
// One writer over two kinds of buffer, chosen at compile time so the hot path has no branch:
//   ByteWriter        owns a std::string (the DNS codec: an answer is handed to sendmmsg(2) or
//                     moved out with Release()); default-constructed, reusable after Clear().
//   VectorByteWriter  appends to a std::vector<uint8_t> the caller owns and must outlive it (the
//                     BGP codec builds bodies and attribute values in vectors of its own).
// Writing cannot fail: a codec checks its length limits before it writes. Patch*() overwrite
// octets already written (length fields known only later); Rewind() drops what came after an
// earlier size (DNS truncation drops whole RRsets). Inline throughout; not thread-safe.
#ifndef HOLDFAST_COMMON_BYTES_BYTE_WRITER_H_
#define HOLDFAST_COMMON_BYTES_BYTE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace holdfast {

// Buffer is a container of char or uint8_t, or a reference to one (then the writer borrows it).
template <typename Buffer>
class BasicByteWriter {
 public:
  using Storage = std::remove_reference_t<Buffer>;
  static constexpr bool kBorrows = std::is_reference_v<Buffer>;

  BasicByteWriter() requires(!kBorrows) = default;
  explicit BasicByteWriter(Storage& out) requires kBorrows : out_(out) {}

  size_t size() const { return out_.size(); }
  const Storage& data() const { return out_; }
  Storage& mutable_data() { return out_; }
  Storage Release() requires(!kBorrows) { return std::move(out_); }
  void Rewind(size_t size) { out_.resize(size); }
  void Clear() { out_.clear(); }

  void U8(uint8_t v) { out_.push_back(static_cast<Char>(v)); }
  void U16(uint16_t v) {
    out_.push_back(static_cast<Char>(v >> 8));
    out_.push_back(static_cast<Char>(v & 0xff));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v & 0xffff));
  }
  void Bytes(std::span<const uint8_t> b) {
    if constexpr (std::is_same_v<Char, char>) {
      // One memcpy: std::string's iterator-range insert would convert octet by octet.
      out_.append(reinterpret_cast<const char*>(b.data()), b.size());
    } else {
      out_.insert(out_.end(), b.begin(), b.end());
    }
  }
  void Bytes(std::string_view b) {
    if constexpr (std::is_same_v<Char, char>) {
      out_.append(b);
    } else {
      Bytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()));
    }
  }
  // Overwrite octets already written; `at` (+1) must be below size().
  void PatchU8(size_t at, uint8_t v) { out_[at] = static_cast<Char>(v); }
  void PatchU16(size_t at, uint16_t v) {
    out_[at] = static_cast<Char>(v >> 8);
    out_[at + 1] = static_cast<Char>(v & 0xff);
  }

 private:
  using Char = typename Storage::value_type;
  static_assert(sizeof(Char) == 1, "a byte buffer");

  Buffer out_;
};

using ByteWriter = BasicByteWriter<std::string>;
using VectorByteWriter = BasicByteWriter<std::vector<uint8_t>&>;

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_BYTES_BYTE_WRITER_H_
