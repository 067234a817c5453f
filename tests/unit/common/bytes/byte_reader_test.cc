#include "common/bytes/byte_reader.h"

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>

namespace holdfast {
namespace {

TEST_CASE("reads big-endian integers and spans in order", "[common][bytes]") {
  const std::array<uint8_t, 9> wire = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xaa, 0xbb};
  ByteReader r(wire);
  CHECK(r.U8() == 0x01);
  CHECK(r.U16() == 0x0203);
  CHECK(r.U32() == 0x04050607u);
  CHECK(r.offset() == 7);
  CHECK(r.remaining() == 2);
  const std::span<const uint8_t> rest = r.Rest();
  REQUIRE(rest.size() == 2);
  CHECK(rest[1] == 0xbb);
  CHECK(r.empty());
  CHECK(r.ok());
  CHECK(r.error().empty());
}

TEST_CASE("a short read fails with its reason and zeros, and later reads fail too",
          "[common][bytes]") {
  const std::array<uint8_t, 3> wire = {0x01, 0x02, 0x03};
  ByteReader r(wire);
  CHECK(r.U16("id") == 0x0102);
  CHECK(r.U16("flags") == 0);
  CHECK_FALSE(r.ok());
  CHECK(r.error() == "flags");
  CHECK(r.remaining() == 0);
  // The byte that is still there is not read: the first error sticks, with its reason.
  CHECK(r.U8("counts") == 0);
  CHECK(r.Bytes(0, "empty").empty());
  CHECK(r.error() == "flags");
}

TEST_CASE("a read without a reason and an explicit failure keep the first reason",
          "[common][bytes]") {
  const std::array<uint8_t, 1> wire = {0x01};
  ByteReader r(wire);
  CHECK(r.U32() == 0);
  CHECK(r.error() == ByteReader::kShortRead);
  r.Fail("later");
  CHECK(r.error() == ByteReader::kShortRead);

  ByteReader f(wire);
  f.Fail("bad label");
  CHECK(f.error() == "bad label");
  CHECK(f.U8() == 0);
}

TEST_CASE("seeks within the span and fails past its end", "[common][bytes]") {
  const std::array<uint8_t, 4> wire = {0x00, 0x11, 0x22, 0x33};
  ByteReader r(wire);
  r.Seek(2);
  CHECK(r.U8() == 0x22);
  r.Seek(4);
  CHECK(r.ok());
  CHECK(r.empty());
  r.Seek(5);
  CHECK(r.error() == "seek past the end");
}

}  // namespace
}  // namespace holdfast
