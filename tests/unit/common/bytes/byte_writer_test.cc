#include "common/bytes/byte_writer.h"

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace holdfast {
namespace {

TEST_CASE("writes big-endian integers and bytes into the string it owns", "[common][bytes]") {
  ByteWriter w;
  w.U8(0x01);
  w.U16(0x0203);
  w.U32(0x04050607);
  w.Bytes(std::string_view("ab"));
  const std::array<uint8_t, 1> tail = {0xff};
  w.Bytes(tail);
  CHECK(w.data() == std::string("\x01\x02\x03\x04\x05\x06\x07"
                                "ab\xff",
                                10));
  w.PatchU16(1, 0xbeef);
  CHECK(static_cast<uint8_t>(w.data()[1]) == 0xbe);
  CHECK(static_cast<uint8_t>(w.data()[2]) == 0xef);
  w.Rewind(3);
  CHECK(w.size() == 3);
  const std::string out = w.Release();
  CHECK(out.size() == 3);
}

TEST_CASE("appends to a vector the caller lends", "[common][bytes]") {
  std::vector<uint8_t> body = {0xff};
  VectorByteWriter w(body);
  const size_t at = w.size();
  w.U16(0);
  w.U32(0x0a0b0c0d);
  w.Bytes(std::string_view("z"));
  w.PatchU16(at, static_cast<uint16_t>(w.size() - at - 2));
  w.PatchU8(0, 0x7f);
  CHECK(body == std::vector<uint8_t>{0x7f, 0x00, 0x05, 0x0a, 0x0b, 0x0c, 0x0d, 'z'});
  w.Clear();
  CHECK(body.empty());
}

}  // namespace
}  // namespace holdfast
