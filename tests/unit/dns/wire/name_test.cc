#include "dns/wire/name.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace holdfast::dns {
namespace {

std::string Wire(std::string_view text) { return *NameFromText(text); }

std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST_CASE("parses presentation names into wire form", "[dns][wire]") {
  CHECK(Wire("www.example.net.") == std::string("\3www\7example\3net\0", 17));
  CHECK(Wire("www.example.net") == Wire("www.example.net."));
  CHECK(Wire(".") == std::string(1, '\0'));
  CHECK(*NameFromText("www", Wire("example.net.")) == Wire("www.example.net."));
  CHECK(*NameFromText("@", Wire("example.net.")) == Wire("example.net."));
  CHECK(*NameFromText("a\\.b.net.") == std::string("\3a.b\3net\0", 9));
  CHECK(*NameFromText("\\065.net.") == std::string("\1A\3net\0", 7));
}

TEST_CASE("rejects label over 63 octets and names over 255", "[dns][wire]") {
  CHECK_FALSE(NameFromText(std::string(64, 'a') + ".net.").ok());
  CHECK(NameFromText(std::string(63, 'a') + ".net.").ok());
  std::string longname;
  for (int i = 0; i < 64; ++i) longname += "abc.";
  CHECK_FALSE(NameFromText(longname).ok());
  CHECK_FALSE(NameFromText("a..b").ok());
  CHECK_FALSE(NameFromText("").ok());
}

TEST_CASE("prints names with escapes and the trailing dot", "[dns][wire]") {
  CHECK(NameToText(Wire("WwW.Example.net")) == "WwW.Example.net.");
  CHECK(NameToText(RootName()) == ".");
  CHECK(NameToText(std::string("\3a.b\0", 5)) == "a\\.b.");
  CHECK(NameToText(std::string("\1\x01\0", 3)) == "\\001.");
}

TEST_CASE("compares names case-insensitively on label boundaries", "[dns][wire]") {
  CHECK(NameEquals(Wire("WWW.Example.NET"), Wire("www.example.net")));
  CHECK_FALSE(NameEquals(Wire("www.example.net"), Wire("ww.example.net")));
  CHECK(IsSubdomain(Wire("a.B.example.net"), Wire("example.NET")));
  CHECK(IsSubdomain(Wire("example.net"), Wire("example.net")));
  CHECK_FALSE(IsSubdomain(Wire("xexample.net"), Wire("example.net")));
  CHECK_FALSE(IsSubdomain(Wire("net"), Wire("example.net")));
  CHECK(LabelCount(Wire("a.b.c")) == 3);
  CHECK(ParentName(Wire("a.b.c")) == Wire("b.c"));
  CHECK(ParentName(RootName()) == RootName());
}

TEST_CASE("reads compressed names and follows backward pointers", "[dns][wire]") {
  // "example.net" at 0, then "www" + pointer to 0 at 13.
  std::string msg = Wire("example.net") + std::string("\3www\xc0\x00", 6);
  ByteReader in(Span(msg));
  in.Seek(13);
  std::string out;
  ReadName(in, out);
  REQUIRE(in.ok());
  CHECK(out == Wire("www.example.net"));
  CHECK(in.offset() == msg.size());
}

std::string Bytes(std::initializer_list<uint8_t> b) { return std::string(b.begin(), b.end()); }

TEST_CASE("rejects pointer loops and forward pointers", "[dns][wire]") {
  const auto [bytes, start] = GENERATE(table<std::string, size_t>({
      {Bytes({0xc0, 0x00}), 0},                   // points at itself
      {Bytes({0x01, 'a', 0xc0, 0x00}), 0},        // loops back to its own start
      {Bytes({0xc0, 0x02, 0x01, 'a', 0x00}), 0},  // forward pointer
      {Bytes({0x01, 'a', 0xc0, 0x00}), 2},        // a -> a -> ... entered at the pointer
      {Bytes({0x40, 0x00}), 0},                   // extended label type (RFC 6891 section 5)
      {Bytes({0x05, 'a', 'b'}), 0},               // label past the end
      {Bytes({0xc0}), 0},                         // half a pointer
  }));
  ByteReader in(Span(bytes));
  in.Seek(start);
  std::string out;
  ReadName(in, out);
  CHECK_FALSE(in.ok());
}

TEST_CASE("rejects a decompressed name over 255 octets", "[dns][wire]") {
  // Each step: a 63-octet label then a pointer back to the previous step.
  std::string msg = std::string(1, 63) + std::string(63, 'a') + std::string(1, '\0');
  size_t prev = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t here = msg.size();
    msg += std::string(1, 63) + std::string(63, 'b');
    msg.push_back(static_cast<char>(0xc0 | (prev >> 8)));
    msg.push_back(static_cast<char>(prev & 0xff));
    prev = here;
  }
  ByteReader in(Span(msg));
  in.Seek(prev);
  std::string out;
  ReadName(in, out);
  CHECK_FALSE(in.ok());
}

TEST_CASE("compresses repeated suffixes byte for byte", "[dns][wire]") {
  ByteWriter w;
  NameCompressor names;
  names.Write(w, Wire("www.example.net"));
  const size_t first = w.size();
  names.Write(w, Wire("mail.example.net"));
  CHECK(w.size() - first == 1 + 4 + 2);  // "mail" + pointer
  names.Write(w, Wire("www.example.net"));
  CHECK(w.size() - first == 7 + 2);  // a bare pointer
  // A different case is not compressed, so the spelling survives.
  const size_t before = w.size();
  names.Write(w, Wire("WWW.example.net"));
  CHECK(w.size() - before == 4 + 2);
  ByteReader in(Span(w.data()));
  in.Seek(before);
  std::string out;
  ReadName(in, out);
  CHECK(out == Wire("WWW.example.net"));
}

}  // namespace
}  // namespace holdfast::dns
