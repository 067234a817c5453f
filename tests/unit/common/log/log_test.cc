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

TEST_CASE("a JSON string keeps UTF-8 and escapes the bytes that are not, so it always parses",
          "[common][log]") {
  const auto json = [](std::string_view s) {
    std::string out;
    AppendJsonString(out, s);
    return out;
  };
  CHECK(json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  CHECK(json("a\tb") == "\"a\\tb\"");
  CHECK(json(std::string_view("a\0b\x1f", 4)) == "\"a\\u0000b\\u001f\"");
  // Latin-1 (HTTP obs-text), a lone continuation byte, an overlong '/', a surrogate, a cut-off
  // sequence: each stray byte becomes its code point.
  CHECK(json("\xe9t\xe9") == "\"\\u00e9t\\u00e9\"");
  CHECK(json("\x80") == "\"\\u0080\"");
  CHECK(json("\xc0\xaf") == "\"\\u00c0\\u00af\"");
  CHECK(json("\xed\xa0\x80") == "\"\\u00ed\\u00a0\\u0080\"");
  CHECK(json("\xe2\x82") == "\"\\u00e2\\u0082\"");
  for (int c = 0; c < 256; ++c) {
    const std::string one(1, static_cast<char>(c));
    CHECK_NOTHROW(nlohmann::json::parse(json(one)));
  }
}

}  // namespace
}  // namespace holdfast
