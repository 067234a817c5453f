// DNS-discovered clusters: holdfast-edge resolves a cluster's hostname with c-ares against a
// real (tiny) DNS server on loopback (tests/support/dns_server.py), follows the answer when it
// changes, and keeps the last good addresses when the resolver fails.
#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <regex>
#include <string>

#include "tests/integration/edge_lab.h"

namespace {

using holdfast::testing::Backend;
using holdfast::testing::EdgeLab;
using holdfast::testing::Process;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

const std::string kSourceDir = HF_SOURCE_DIR;

uint16_t ListeningPort(Process& p) {
  REQUIRE(WaitUntil([&] { return p.Output().find("listening") != std::string::npos; }, 10s));
  std::smatch m;
  const std::string out = p.Output();
  REQUIRE(std::regex_search(out, m, std::regex("listening \\S+ ([0-9]+)")));
  return static_cast<uint16_t>(std::stoi(m[1]));
}

TEST_CASE("a DNS-discovered cluster follows its name's answers and survives resolver failures",
          "[edge][discovery]") {
  holdfast::testing::TempDir dir;
  // Two backends on the same port, at 127.0.0.1 and 127.0.0.2: the DNS answer picks one. The
  // first binds port 0; the second takes the port it got.
  const Backend one("one", dir.path(), "127.0.0.1");
  const uint16_t port = one.port();
  const Backend two("two", dir.path(), "127.0.0.2", port);
  const std::filesystem::path answers = dir.path() / "answers";
  std::ofstream(answers) << "127.0.0.1\n";
  Process dns({"/usr/bin/python3", kSourceDir + "/tests/support/dns_server.py", "--answers",
               answers.string(), "--ttl", "1"},
              dir.path() / "dns.log");
  const uint16_t dns_port = ListeningPort(dns);

  EdgeLab lab(EdgeLab::kListeners, "  - {name: web, match: {path_prefix: /}, cluster: web}\n",
              "  - name: web\n"
              "    dns: {hostname: backends.example.test, port: " +
                  std::to_string(port) + ", refresh: 1s}\n",
              /*workers=*/2, {"--dns-resolvers", "127.0.0.1:" + std::to_string(dns_port)});
  REQUIRE(WaitUntil([&] { return lab.Get("/x") == "one /x\n"; }, 10s));
  CHECK(lab.edge().Output().find("event=discovery.resolved cluster=web "
                                 "hostname=backends.example.test addresses=1") !=
        std::string::npos);

  // The name moves: within a TTL or two, so does the traffic.
  std::ofstream(answers) << "127.0.0.2\n";
  REQUIRE(WaitUntil([&] { return lab.Get("/x") == "two /x\n"; }, 10s));

  // The resolver fails: the cluster keeps the last good address and goes on serving.
  std::ofstream(answers) << "servfail\n";
  REQUIRE(WaitUntil(
      [&] {
        return lab.edge().Output().find("event=discovery.resolve_failed cluster=web") !=
               std::string::npos;
      },
      10s));
  for (int i = 0; i < 3; ++i) CHECK(lab.Get("/x") == "two /x\n");
  CHECK(lab.edge().Output().find("kept=1") != std::string::npos);
}

}  // namespace
