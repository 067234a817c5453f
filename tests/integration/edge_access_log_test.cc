// The access log of an http listener, as an operator reads it: one line per request, JSON or
// key=value text, with the response flag that says why the edge answered itself.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/edge_lab.h"

namespace {

using holdfast::testing::EdgeLab;
using holdfast::testing::TempDir;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

std::vector<std::string> Lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The first `count` lines of the log, once the writer thread has written them.
std::vector<std::string> WaitForLines(const std::filesystem::path& path, size_t count) {
  WaitUntil([&] { return Lines(path).size() >= count; }, 5s);
  std::vector<std::string> lines = Lines(path);
  INFO(path.string());
  REQUIRE(lines.size() == count);
  return lines;
}

std::string Listeners(const std::filesystem::path& log, const std::string& format) {
  return "  - {name: http, port: {http}, protocol: http, access_log: {format: " + format +
         ", path: " + log.string() + "}}\n";
}

TEST_CASE("a JSON access log has a line per request: served, no route, and no upstream",
          "[edge][http][access_log]") {
  TempDir logs;
  const std::filesystem::path log = logs.path() / "access.json";
  EdgeLab lab(Listeners(log, "json"), EdgeLab::kRoutes, EdgeLab::kClusters, /*workers=*/1);

  const std::string body =
      lab.Get("/v1/a?q=1", {"-H", "Host: api.example.net", "-A", "probe/1", "--data", "hello"});
  CHECK(body.starts_with("api1 /v1/a"));
  lab.KillBackend("api1");
  CHECK(lab.Status("/v1/b", {"-H", "Host: api.example.net"}) == 502);
  CHECK(lab.Status("/x", {"-H", "Host: nowhere.example.net", "-X", "DELETE"}) == 200);
  // obs-text (RFC 9110 section 5.5) in a field is let through, and the line stays JSON.
  const std::string raw = holdfast::testing::RawExchange(
      lab.http_port(),
      "GET /y HTTP/1.1\r\nHost: a\r\nUser-Agent: caf\xe9\r\nConnection: close\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.1 200", 0) == 0);

  const std::vector<std::string> lines = WaitForLines(log, 4);
  const nlohmann::json served = nlohmann::json::parse(lines[0]);
  INFO(lines[0]);
  CHECK(served["listener"] == "http");
  CHECK(served["client"] == "127.0.0.1");
  CHECK(served["method"] == "POST");
  CHECK(served["authority"] == "api.example.net");
  CHECK(served["path"] == "/v1/a?q=1");
  CHECK(served["protocol"] == "HTTP/1.1");
  CHECK(served["status"] == 200);
  CHECK(served["flags"] == "-");
  CHECK(served["bytes_received"] == 5);
  CHECK(served["bytes_sent"] == body.size());
  CHECK(served["duration_ms"].get<double>() >= 0);
  CHECK(served["route"] == "api");
  CHECK(served["cluster"] == "api");
  CHECK(served["upstream"] == lab.BackendKey("api1"));
  CHECK(served["user_agent"] == "probe/1");
  // ISO 8601 in UTC, to the millisecond.
  CHECK(std::regex_match(served["time"].get<std::string>(),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));

  const nlohmann::json refused = nlohmann::json::parse(lines[1]);
  INFO(lines[1]);
  CHECK(refused["status"] == 502);
  CHECK(refused["flags"] == "UF");
  CHECK(refused["reason"] == "upstream connect failure");
  CHECK(refused["upstream"] == lab.BackendKey("api1"));
  CHECK(refused["bytes_sent"] == std::string("502 Bad Gateway: upstream connect failure\n").size());

  // The catch-all route serves any host: this one went through to the web cluster.
  const nlohmann::json other = nlohmann::json::parse(lines[2]);
  CHECK(other["method"] == "DELETE");
  CHECK(other["route"] == "web");
  const nlohmann::json latin1 = nlohmann::json::parse(lines[3]);
  CHECK(latin1["user_agent"] == "caf\u00e9");
}

TEST_CASE("a text access log says NR for no route and UO for a cluster over its limit",
          "[edge][http][access_log]") {
  TempDir logs;
  const std::filesystem::path log = logs.path() / "access.log";
  EdgeLab lab(Listeners(log, "text"),
              "  - {name: web, match: {host: www.example.net, path_prefix: /}, cluster: web}\n",
              "  - name: web\n"
              "    endpoints: [{address: 127.0.0.1, port: {web1}}]\n"
              "    circuit_breakers: {max_requests: 1}\n",
              /*workers=*/1);
  CHECK(lab.Status("/x", {"-H", "Host: other.example.net"}) == 404);
  std::thread holder([&] { lab.Get("/slow?ms=1500", {"-H", "Host: www.example.net"}); });
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_upstream_requests_active{cluster=\"web\"}") == 1; }, 5s));
  CHECK(lab.Status("/y", {"-H", "Host: www.example.net"}) == 503);
  holder.join();

  const std::vector<std::string> lines = WaitForLines(log, 3);
  INFO(lines[0] << "\n" << lines[1] << "\n" << lines[2]);
  CHECK(lines[0].find(" method=GET authority=\"other.example.net\" path=\"/x\" protocol=HTTP/1.1"
                      " status=404 flags=NR ") != std::string::npos);
  CHECK(lines[0].find(" route=- cluster=- upstream=- ") != std::string::npos);
  // The shed request was answered before the held one finished, so it is logged first.
  CHECK(lines[1].find(" path=\"/y\" ") != std::string::npos);
  CHECK(lines[1].find(" status=503 flags=UO reason=\"over the cluster's max_requests\" ") !=
        std::string::npos);
  CHECK(lines[1].find(" route=web cluster=web upstream=- ") != std::string::npos);
  CHECK(lines[2].find(" path=\"/slow?ms=1500\" ") != std::string::npos);
  CHECK(lines[2].find(" status=200 flags=- ") != std::string::npos);
  CHECK(lab.Metric("holdfast_access_log_dropped_total") == 0);
}

TEST_CASE(
    "a JSON access log says RL for a client over its rate limit and why a request waited "
    "in vain",
    "[edge][http][access_log][overload]") {
  TempDir logs;
  const std::filesystem::path log = logs.path() / "access.json";
  EdgeLab lab("  - {name: http, port: {http}, protocol: http, access_log: {format: json, path: " +
                  log.string() + "}, client_rate_limit: {requests_per_second: 0.1, burst: 2}}\n",
              "  - {name: web, match: {path_prefix: /}, cluster: web}\n",
              "  - name: web\n"
              "    endpoints: [{address: 127.0.0.1, port: {web1}}]\n"
              "    circuit_breakers: {max_requests: 1, pending_timeout: 200ms}\n",
              /*workers=*/1);
  // The client's two tokens: one request held at the backend, one that waits for its place in
  // vain; the third is over the client's rate.
  std::thread holder([&] { lab.Get("/slow?ms=1500"); });
  REQUIRE(WaitUntil(
      [&] { return lab.Metric("holdfast_concurrency_in_flight{cluster=\"web\"}") == 1; }, 5s));
  CHECK(lab.Status("/waits") == 503);
  CHECK(lab.Status("/over") == 429);
  holder.join();

  const std::vector<std::string> lines = WaitForLines(log, 3);
  INFO(lines[0] << "\n" << lines[1] << "\n" << lines[2]);
  const nlohmann::json waited = nlohmann::json::parse(lines[0]);
  CHECK(waited["path"] == "/waits");
  CHECK(waited["status"] == 503);
  CHECK(waited["flags"] == "UO");
  CHECK(waited["reason"] == "over the cluster's limit for longer than pending_timeout");
  CHECK(waited["cluster"] == "web");
  const nlohmann::json over = nlohmann::json::parse(lines[1]);
  CHECK(over["path"] == "/over");
  CHECK(over["status"] == 429);
  CHECK(over["flags"] == "RL");
  CHECK(over["reason"] == "client over its rate limit");
  CHECK(nlohmann::json::parse(lines[2])["status"] == 200);
}

}  // namespace
