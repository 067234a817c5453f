// The test peers' parsers (tests/support/bird.h, dig.h) on output as BIRD 2, dig and kdig print
// it, and the port scheme of tests/support/ports.h.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/bird.h"
#include "tests/support/dig.h"
#include "tests/support/ports.h"
#include "tests/support/temp_dir.h"

namespace holdfast::testing {
namespace {

RunResult Ran(int exit_code, const std::string& out) {
  RunResult r;
  r.exited = true;
  r.exit_code = exit_code;
  r.out = out;
  return r;
}

TEST_CASE("BIRD's routes are parsed with their table, protocol and attributes", "[support]") {
  const std::string out =
      "BIRD 2.0.12 ready.\n"
      "Table master4:\n"
      "192.0.2.0/24         unicast [e1 17:20:01.123 from 127.0.0.1] * (100/0) [AS65001i]\n"
      "\tvia 127.0.0.1 on lo\n"
      "\tType: BGP univ\n"
      "\tBGP.as_path: 65001\n"
      "                     unicast [e2 17:20:02.456 from 127.0.0.2] (100/0) [AS65002i]\n"
      "\tType: BGP univ\n"
      "\tBGP.community: (64512,100) (65535,0)\n"
      "\n"
      "Table master6:\n"
      "2001:db8:100::/48    unreachable [holdfast 1712345678.123456] * (100/-) [AS64512i]\n"
      "\tBGP.large_community: (64512, 1, 2)\n";
  const std::vector<BirdRoute> routes = ParseBirdRoutes(out);
  REQUIRE(routes.size() == 3);
  CHECK(routes[0].table == "master4");
  CHECK(routes[0].prefix == "192.0.2.0/24");
  CHECK(routes[0].protocol == "e1");
  CHECK(routes[0].since == "17:20:01.123");
  CHECK(routes[0].best);
  CHECK(routes[0].Attribute("BGP.as_path") == "65001");
  CHECK(routes[0].Attribute("Type") == "BGP univ");
  CHECK(routes[0].Attribute("BGP.community").empty());
  CHECK(routes[0].text ==
        "192.0.2.0/24         unicast [e1 17:20:01.123 from 127.0.0.1] * (100/0) [AS65001i]\n"
        "\tvia 127.0.0.1 on lo\n\tType: BGP univ\n\tBGP.as_path: 65001\n");
  CHECK(routes[1].prefix == "192.0.2.0/24");
  CHECK(routes[1].protocol == "e2");
  CHECK_FALSE(routes[1].best);
  CHECK(routes[1].Attribute("BGP.community") == "(64512,100) (65535,0)");
  CHECK(routes[2].table == "master6");
  CHECK(routes[2].prefix == "2001:db8:100::/48");
  CHECK(routes[2].since == "1712345678.123456");
  CHECK(routes[2].Attribute("BGP.large_community") == "(64512, 1, 2)");
  CHECK(ParseBirdRoutes("BIRD 2.0.12 ready.\nNetwork not found\n").empty());
}

TEST_CASE("BIRD's protocols are parsed from show protocols, details skipped", "[support]") {
  const std::vector<BirdProtocol> protocols = ParseBirdProtocols(
      "BIRD 2.0.12 ready.\n"
      "Name       Proto      Table      State  Since         Info\n"
      "device1    Device     ---        up     17:12:06.785  \n"
      "holdfast   BGP        ---        start  17:12:06.785  Active        Socket: Connection "
      "refused\n"
      "  BGP state:          Active\n"
      "    Neighbor address: 127.0.0.1\n");
  REQUIRE(protocols.size() == 2);
  CHECK(protocols[0].name == "device1");
  CHECK(protocols[0].state == "up");
  CHECK(protocols[0].info.empty());
  CHECK(protocols[1].name == "holdfast");
  CHECK(protocols[1].proto == "BGP");
  CHECK(protocols[1].state == "start");
  CHECK(protocols[1].info == "Active        Socket: Connection refused");
}

TEST_CASE("dig's and kdig's header and answer section are parsed", "[support]") {
  const std::string dig =
      ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 36619\n"
      ";; flags: qr aa rd; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1\n"
      "\n"
      ";; QUESTION SECTION:\n"
      ";www.example.net.\t\tIN\tA\n"
      "\n"
      ";; ANSWER SECTION:\n"
      "www.example.net.\t30\tIN\tA\t192.0.2.10\n"
      "www.example.net.\t30\tIN\tA\t192.0.2.20\n"
      "\n"
      ";; Query time: 0 msec\n";
  const DigResult d = ParseDig(Ran(0, dig));
  CHECK(d.ok);
  CHECK(d.status == "NOERROR");
  CHECK(d.flags == std::vector<std::string>{"qr", "aa", "rd"});
  CHECK(d.HasFlag("aa"));
  CHECK_FALSE(d.HasFlag("tc"));
  CHECK(d.answer_count == 2);
  REQUIRE(d.answer.size() == 2);
  CHECK(d.answer[1].name == "www.example.net.");
  CHECK(d.answer[1].ttl == 30);
  CHECK(d.answer[1].rclass == "IN");
  CHECK(d.answer[1].type == "A");
  CHECK(d.answer[1].data == "192.0.2.20");

  const std::string kdig =
      ";; ->>HEADER<<- opcode: QUERY; status: NXDOMAIN; id: 7508\n"
      ";; Flags: qr aa; QUERY: 1; ANSWER: 0; AUTHORITY: 1; ADDITIONAL: 0\n"
      "\n"
      ";; AUTHORITY SECTION:\n"
      "example.net.\t300\tIN\tSOA\tns1.example.net. hostmaster.example.net. 7 3600 600 604800 "
      "300\n";
  const DigResult k = ParseDig(Ran(9, kdig));
  CHECK_FALSE(k.ok);
  CHECK(k.status == "NXDOMAIN");
  CHECK(k.flags == std::vector<std::string>{"qr", "aa"});
  CHECK(k.answer_count == 0);
  CHECK(k.answer.empty());

  const DigResult s = ParseDig(Ran(0, "192.0.2.80\n"));
  CHECK(s.status.empty());
  CHECK(s.answer_count == -1);
}

TEST_CASE("concurrent port allocators get blocks of their own, and skip ports in use",
          "[support][ports]") {
  const TempDir locks;
  PortAllocator a(20000, 20000 + 2 * PortAllocator::kBlockSize - 1, locks.path());
  PortAllocator b(20000, 20000 + 2 * PortAllocator::kBlockSize - 1, locks.path());
  CHECK(a.block_first() != b.block_first());
  // Both blocks claimed: a third finds none.
  CHECK_THROWS(PortAllocator(20000, 20000 + 2 * PortAllocator::kBlockSize - 1, locks.path()));

  // A port someone listens on is skipped.
  const uint16_t first = a.Next();
  CHECK(first >= a.block_first());
  CHECK(first < a.block_first() + PortAllocator::kBlockSize);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  const auto in_use = static_cast<uint16_t>(first + 1);
  sa.sin_port = htons(in_use);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  if (bound) {
    CHECK(a.Next("127.0.0.2") == static_cast<uint16_t>(first + 2));
  }
  ::close(fd);

  // This process's own allocator hands out ports the kernel never picks as ephemeral ones.
  CHECK(FreePort() >= PortAllocator::kLowest);
  CHECK(FreePort() != FreePort());
}

}  // namespace
}  // namespace holdfast::testing
