#include "common/log/log.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace holdfast {
namespace {

nlohmann::json Parse(std::string_view message) {
  return nlohmann::json::parse("{" + KeyValuesToJsonMembers(message) + "}");
}

TEST_CASE("key=value log messages become JSON members with typed values", "[common][log]") {
  const nlohmann::json j = Parse(
      "event=edge.started node=ams-1 workers=2 ratio=0.5 draining=false "
      "reason=\"cannot connect to backend\" code=-3");
  CHECK(j["event"] == "edge.started");
  CHECK(j["node"] == "ams-1");
  CHECK(j["workers"] == 2);
  CHECK(j["ratio"] == 0.5);
  CHECK(j["draining"] == false);
  CHECK(j["reason"] == "cannot connect to backend");
  CHECK(j["code"] == -3);
}

TEST_CASE("log values that only look like numbers, or need escaping, stay strings",
          "[common][log]") {
  const nlohmann::json j =
      Parse("version=0123 pid=12a quoted=\"42\" path=\"C:\\dir \"x\"y\" tab=\"x\ty\"");
  CHECK(j["version"] == "0123");
  CHECK(j["pid"] == "12a");
  CHECK(j["quoted"] == "42");
  // A quote inside a quoted value ends it only before a space or the end.
  CHECK(j["path"] == "C:\\dir \"x\"y");
  CHECK(j["tab"] == "x\ty");
}

TEST_CASE("a quoted log value escapes quotes and backslashes", "[common][log]") {
  CHECK(QuoteLogValue("plain") == "\"plain\"");
  const std::string quoted = QuoteLogValue("a \"b\" c\\d x=y");
  CHECK(quoted == "\"a \\\"b\\\" c\\\\d x=y\"");
}

TEST_CASE("words that are not key=value go to msg", "[common][log]") {
  const nlohmann::json j = Parse("plain words event=x =odd open=\"unterminated");
  CHECK(j["event"] == "x");
  CHECK(j["msg"] == "plain words =odd open=\"unterminated");
  CHECK(KeyValuesToJsonMembers("").empty());
}

}  // namespace
}  // namespace holdfast
