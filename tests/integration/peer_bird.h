// BIRD 2 as the router an edge node peers with, for the edge's BGP and BFD tests: one BGP
// protocol, `holdfast`, listening on 127.0.0.2 and peering with the node, 127.0.0.1. eBGP on
// loopback needs `multihop` in BIRD (DESIGN.md), and so BFD with it is multihop (RFC 5883).
#ifndef HOLDFAST_TESTS_INTEGRATION_PEER_BIRD_H_
#define HOLDFAST_TESTS_INTEGRATION_PEER_BIRD_H_

#include <catch2/catch.hpp>
#include <string>

#include "tests/support/bird.h"
#include "tests/support/ports.h"

namespace holdfast::testing {

inline constexpr char kBirdAddress[] = "127.0.0.2";
inline constexpr char kNodeAddress[] = "127.0.0.1";

struct PeerBirdOptions {
  // BIRD keeps the edge's routes while it restarts (RFC 4724 helper).
  bool graceful_restart = false;
  // BIRD sends the edge that many IPv4 routes (10.9.N.0/24).
  int exported = 0;
  // BIRD's hold time, in seconds; the session's is the smaller of both sides'.
  int hold_time_s = 3;
  // BIRD runs BFD with the edge (`bfd on`) at this interval and multiplier; 0: no BFD.
  int bfd_interval_ms = 0;
  int bfd_multiplier = 3;
};

// Killed when it goes out of scope (after the lab: declare it first).
class PeerBird : public Bird {
 public:
  explicit PeerBird(const PeerBirdOptions& options = {}, uint16_t port = FreePort(kBirdAddress))
      : Bird(Config(options, port)), port_(port) {
    // Listening once the protocol has started (Connect or Active): the edge's first connection
    // must find it, or the edge waits its connect retry time.
    const bool listening = WaitProtocolState("holdfast", {"Active", "Connect"});
    INFO(Output());
    REQUIRE(listening);
  }

  uint16_t port() const { return port_; }

 private:
  static std::string Config(const PeerBirdOptions& o, uint16_t port) {
    std::string statics;
    for (int i = 0; i < o.exported; ++i) {
      statics += "  route 10.9." + std::to_string(i) + ".0/24 blackhole;\n";
    }
    const std::string bfd = o.bfd_interval_ms == 0
                                ? ""
                                : "protocol bfd {\n  multihop { interval " +
                                      std::to_string(o.bfd_interval_ms) + " ms; multiplier " +
                                      std::to_string(o.bfd_multiplier) + "; };\n}\n";
    // The edge only connects out; BIRD's own attempts go to a port nobody listens on. After an
    // error (BFD down among them) BIRD takes the session again after 1 s, not 60.
    return "router id 10.255.0.1;\n"
           "log \"{dir}/bird.log\" all;\n"
           "protocol device {}\n"
           "protocol static routes4 { ipv4;\n" +
           statics + "}\n" + bfd +
           "protocol bgp holdfast {\n"
           "  local " +
           kBirdAddress + " port " + std::to_string(port) +
           " as 65001;\n"
           "  neighbor " +
           kNodeAddress + " port " + std::to_string(FreePort()) +
           " as 64512;\n"
           "  multihop;\n" +
           (o.graceful_restart ? "  graceful restart on;\n" : "") +
           (o.bfd_interval_ms != 0 ? "  bfd on;\n" : "") + "  hold time " +
           std::to_string(o.hold_time_s) +
           ";\n"
           "  keepalive time 1;\n"
           "  connect retry time 1;\n"
           "  error wait time 1, 2;\n"
           "  ipv4 { import all; export " +
           (o.exported > 0 ? "where proto = \"routes4\"" : "none") +
           "; };\n"
           "  ipv6 { import all; export none; };\n"
           "}\n";
  }

  uint16_t port_;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_INTEGRATION_PEER_BIRD_H_
