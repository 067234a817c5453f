#include "edge/daemon/startup.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace holdfast::edge {
namespace {

// Stand-ins for ListenerConfig (with a protocol) and DnsListener (without); ports as binds.
struct WithProtocol {
  std::string name;
  int protocol = 0;
  std::vector<int> binds;
};
struct WithoutProtocol {
  std::string name;
  std::vector<int> binds;
};

TEST_CASE("a reload that listens as before is taken", "[edge][daemon]") {
  const std::vector<WithProtocol> a = {{"http", 1, {80}}, {"dns", 2, {53, 5353}}};
  CHECK(ListenerChange("listeners", a, a).empty());
}

TEST_CASE("a listener added, renamed, moved or changed in protocol needs a restart",
          "[edge][daemon]") {
  const std::vector<WithProtocol> a = {{"http", 1, {80}}};
  CHECK(ListenerChange("listeners", a, std::vector<WithProtocol>{}) ==
        "the number of listeners changes (1 -> 0)");
  CHECK(ListenerChange("listeners", a, std::vector<WithProtocol>{{"web", 1, {80}}}) ==
        "listener http changes its name, protocol or addresses");
  CHECK(ListenerChange("listeners", a, std::vector<WithProtocol>{{"http", 3, {80}}}) ==
        "listener http changes its name, protocol or addresses");
  CHECK(ListenerChange("listeners", a, std::vector<WithProtocol>{{"http", 1, {8080}}}) ==
        "listener http changes its name, protocol or addresses");
}

TEST_CASE("listeners without a protocol are compared by name and addresses", "[edge][daemon]") {
  const std::vector<WithoutProtocol> a = {{"dns", {53}}};
  CHECK(ListenerChange("dns listeners", a, a).empty());
  CHECK(ListenerChange("dns listeners", a, std::vector<WithoutProtocol>{{"dns", {54}}}) ==
        "listener dns changes its name or addresses");
  CHECK(ListenerChange("dns listeners", a, std::vector<WithoutProtocol>{}) ==
        "the number of dns listeners changes (1 -> 0)");
}

}  // namespace
}  // namespace holdfast::edge
