#include "bfd/wire/control_packet.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace holdfast::bfd {
namespace {

// RFC 5880 section 4.1, written out by hand: version 1, diag 0, state Up, no flags, mult 3,
// length 24, discriminators 1 and 2, 300 ms / 300 ms / no echo.
const std::vector<uint8_t> kUp = {0x20, 0xc0, 0x03, 0x18, 0,    0,    0,    1,    0, 0, 0, 2,
                                  0x00, 0x04, 0x93, 0xe0, 0x00, 0x04, 0x93, 0xe0, 0, 0, 0, 0};

std::string Error(const std::vector<uint8_t>& wire) {
  absl::StatusOr<ControlPacket> p = DecodeControlPacket(wire);
  return p.ok() ? "" : std::string(p.status().message());
}

TEST_CASE("decodes the fields of RFC 5880's Control packet", "[bfd][wire]") {
  absl::StatusOr<ControlPacket> p = DecodeControlPacket(kUp);
  REQUIRE(p.ok());
  CHECK(p->state == SessionState::kUp);
  CHECK(p->diagnostic == Diagnostic::kNone);
  CHECK(p->detect_multiplier == 3);
  CHECK(p->my_discriminator == 1);
  CHECK(p->your_discriminator == 2);
  CHECK(p->desired_min_tx_interval == 300'000);
  CHECK(p->required_min_rx_interval == 300'000);
  CHECK_FALSE(p->poll);
  CHECK_FALSE(p->final);
  CHECK_FALSE(p->authentication.has_value());
}

TEST_CASE("encodes what it decodes, octet for octet", "[bfd][wire]") {
  CHECK(EncodeControlPacket(*DecodeControlPacket(kUp)) == kUp);
  ControlPacket p;
  p.state = SessionState::kInit;
  p.diagnostic = Diagnostic::kNeighborSignaledSessionDown;
  p.poll = true;
  p.my_discriminator = 0xdeadbeef;
  p.your_discriminator = 7;
  p.authentication = Authentication{1, {3, 'a', 'b', 'c'}};
  const std::vector<uint8_t> wire = EncodeControlPacket(p);
  CHECK(wire.size() == 24 + 6);
  CHECK(wire[3] == 30);
  CHECK(*DecodeControlPacket(wire) == p);
}

TEST_CASE("ignores octets after Length", "[bfd][wire]") {
  std::vector<uint8_t> wire = kUp;
  wire.push_back(0xff);
  CHECK(*DecodeControlPacket(wire) == *DecodeControlPacket(kUp));
}

TEST_CASE("refuses what RFC 5880 section 6.8.6 says to discard, saying why", "[bfd][wire]") {
  auto with = [](size_t at, uint8_t value) {
    std::vector<uint8_t> w = kUp;
    w[at] = value;
    return w;
  };
  CHECK(Error(std::vector<uint8_t>(kUp.begin(), kUp.begin() + 23)).find("shorter") !=
        std::string::npos);
  CHECK(Error(with(0, 0x40)).find("version 2") != std::string::npos);
  CHECK(Error(with(3, 23)).find("Length 23") != std::string::npos);
  CHECK(Error(with(3, 25)).find("beyond") != std::string::npos);
  CHECK(Error(with(2, 0)).find("Detect Mult 0") != std::string::npos);
  CHECK(Error(with(1, 0xc1)).find("Multipoint") != std::string::npos);
  CHECK(Error(with(7, 0)).find("My Discriminator 0") != std::string::npos);
  CHECK(Error(with(11, 0)).find("Your Discriminator 0 in state up") != std::string::npos);
  CHECK(Error(with(1, 0xf0)).find("Poll and Final") != std::string::npos);
  // The A bit with no room for the authentication section.
  CHECK(Error(with(1, 0xc4)).find("Length 24 below 26") != std::string::npos);
}

TEST_CASE("takes Your Discriminator 0 while Down or AdminDown", "[bfd][wire]") {
  std::vector<uint8_t> wire = kUp;
  wire[11] = 0;
  for (uint8_t state : {0x00, 0x40}) {
    wire[1] = state;
    CHECK(DecodeControlPacket(wire).ok());
  }
}

TEST_CASE("refuses an authentication section whose length does not fill the packet",
          "[bfd][wire]") {
  ControlPacket p;
  p.my_discriminator = 1;
  p.authentication = Authentication{2, {1, 0, 0, 0, 0, 0}};
  std::vector<uint8_t> wire = EncodeControlPacket(p);
  REQUIRE(DecodeControlPacket(wire).ok());
  wire[25] = 4;  // Auth Len shorter than the section
  CHECK(Error(wire).find("Auth Len 4") != std::string::npos);
  wire[25] = 1;
  CHECK(Error(wire).find("Auth Len 1") != std::string::npos);
}

}  // namespace
}  // namespace holdfast::bfd
