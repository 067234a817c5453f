// The access log's lines (edge/server/access_log.h): what an operator greps and what a log
// pipeline parses, including a client's hostile strings.
#include "edge/server/access_log.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace holdfast::edge {
namespace {

AccessRecord Example() {
  AccessRecord r;
  r.start = absl::FromUnixMillis(1'796'419'494'123);  // 2026-12-04T21:24:54.123Z
  r.duration = absl::Microseconds(412);
  r.listener = "web";
  r.client = "192.0.2.7";
  r.method = "GET";
  r.authority = "www.example.net";
  r.path = "/index.html?q=1";
  r.status = 503;
  r.flag = ResponseFlag::kNoHealthyUpstream;
  r.reason = "no healthy upstream";
  r.route = "www";
  r.cluster = "web";
  r.user_agent = "curl/7.88.1";
  return r;
}

TEST_CASE("access log: a text line is key=value, with the flag and its reason") {
  const std::string line = FormatAccessRecord(Example(), AccessLogFormat::kText);
  CHECK(line ==
        "time=2026-12-04T21:24:54.123Z listener=web client=192.0.2.7 method=GET "
        "authority=\"www.example.net\" path=\"/index.html?q=1\" protocol=HTTP/1.1 status=503 "
        "flags=UH reason=\"no healthy upstream\" bytes_received=0 bytes_sent=0 "
        "duration_ms=0.412 route=www cluster=web upstream=- user_agent=\"curl/7.88.1\"");
}

TEST_CASE("access log: a JSON line parses, with numbers as numbers") {
  AccessRecord r = Example();
  r.status = 200;
  r.flag = ResponseFlag::kNone;
  r.reason = "";
  r.upstream = "10.0.0.1:8080";
  r.bytes_sent = 1234;
  const auto j = nlohmann::json::parse(FormatAccessRecord(r, AccessLogFormat::kJson));
  CHECK(j["status"] == 200);
  CHECK(j["flags"] == "-");
  CHECK(j["bytes_sent"] == 1234);
  CHECK(j["duration_ms"].get<double>() > 0.4);
  CHECK(j["upstream"] == "10.0.0.1:8080");
  CHECK(j["path"] == "/index.html?q=1");
  CHECK(j["time"] == "2026-12-04T21:24:54.123Z");
}

TEST_CASE("access log: a client's quotes cannot forge fields, in either format") {
  AccessRecord r = Example();
  r.user_agent = R"(x" status=200 flags="- )";
  r.path = R"(/a"b\c)";
  const auto j = nlohmann::json::parse(FormatAccessRecord(r, AccessLogFormat::kJson));
  CHECK(j["user_agent"] == R"(x" status=200 flags="- )");
  CHECK(j["status"] == 503);
  const std::string text = FormatAccessRecord(r, AccessLogFormat::kText);
  CHECK(text.find(R"(user_agent="x\" status=200 flags=\"- ")") != std::string::npos);
  CHECK(text.find(R"(path="/a\"b\\c")") != std::string::npos);
}

TEST_CASE("access log: a refused head logs what is known and dashes for the rest") {
  AccessRecord r;
  r.start = absl::FromUnixSeconds(0);
  r.listener = "web";
  r.client = "::1";
  r.status = 400;
  r.flag = ResponseFlag::kDownstreamProtocolError;
  r.reason = "invalid header field";
  const std::string line = FormatAccessRecord(r, AccessLogFormat::kText);
  CHECK(line.find("method=- authority=\"\" path=\"\" protocol=- status=400 flags=DPE") !=
        std::string::npos);
}

}  // namespace
}  // namespace holdfast::edge
