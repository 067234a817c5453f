// A temporary edge for integration tests: python backends (tests/support/backends.h), a config
// with free ports (tests/support/ports.h) in a temporary directory, and holdfast-edge started on
// it; curl as the client and raw sockets for what curl will not send. Everything stops when the
// lab goes out of scope.
#ifndef HOLDFAST_TESTS_INTEGRATION_EDGE_LAB_H_
#define HOLDFAST_TESTS_INTEGRATION_EDGE_LAB_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/backends.h"
#include "tests/support/ports.h"
#include "tests/support/process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace holdfast::testing {

using namespace std::chrono_literals;

inline const std::string kSourceDir = HF_SOURCE_DIR;

// Sends `request` on a new connection to 127.0.0.1:port and returns everything read until the
// peer closes or 3 s pass.
inline std::string RawExchange(uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// A temporary edge: backends, a config with free ports, and holdfast-edge started on it.
class EdgeLab {
 public:
  // `clusters_yaml` may use {web1} {web2} {api1} for the backends' ports, `listeners_yaml`
  // {http}, {tcp}, {https}, {tls} and {dns} for the listeners'. `listeners_yaml` may go on with
  // further top-level keys (dns:, prefixes:) after its list. `pops_yaml` is the list under
  // `pops:`, with node-1 in it.
  explicit EdgeLab(std::string listeners_yaml = kListeners, std::string routes_yaml = kRoutes,
                   std::string clusters_yaml = kClusters, int workers = 2,
                   std::vector<std::string> edge_args = {}, std::string pops_yaml = kPops)
      : workers_(workers), edge_args_(std::move(edge_args)), pops_yaml_(std::move(pops_yaml)) {
    for (const char* name : {"web1", "web2", "api1"}) {
      backends_.push_back(std::make_unique<Backend>(name, dir_.path()));
    }
    http_port_ = FreePort();
    tcp_port_ = FreePort();
    https_port_ = FreePort();
    tls_port_ = FreePort();
    dns_port_ = FreePort();
    vars_ = {{"{http}", std::to_string(http_port_)},
             {"{tcp}", std::to_string(tcp_port_)},
             {"{https}", std::to_string(https_port_)},
             {"{tls}", std::to_string(tls_port_)},
             {"{dns}", std::to_string(dns_port_)}};
    if (listeners_yaml.find("certs/") != std::string::npos) MakeCertificates();
    for (const auto& b : backends_) vars_["{" + b->name() + "}"] = std::to_string(b->port());
    config_path_ = dir_.path() / "edge.yaml";
    WriteConfig(listeners_yaml, routes_yaml, clusters_yaml);
    StartEdge();
  }

  // (Re)writes the config file, with the lab's ports in place of {http}, {web1}, ...
  void WriteConfig(const std::string& listeners_yaml, const std::string& routes_yaml,
                   const std::string& clusters_yaml) const {
    WriteRawConfig("listeners:\n" + listeners_yaml + "routes:\n" + routes_yaml + "clusters:\n" +
                   clusters_yaml + "pops:\n" + pops_yaml_);
  }
  // The `pops:` list the next WriteConfig writes.
  void set_pops(std::string pops_yaml) { pops_yaml_ = std::move(pops_yaml); }
  void WriteRawConfig(std::string config) const {
    for (const auto& [k, v] : vars_) {
      for (size_t at; (at = config.find(k)) != std::string::npos;) config.replace(at, k.size(), v);
    }
    // Written aside and renamed, as an editor or a deploy tool would: never read half-written.
    const std::filesystem::path tmp = config_path_.string() + ".tmp";
    std::ofstream(tmp) << config;
    std::filesystem::rename(tmp, config_path_);
  }

  // Every lab ends with a drain: the edge must exit 0 and its log hold no sanitizer report.
  ~EdgeLab() {
    if (!edge_ || !edge_->Running()) return;
    edge_->Signal(SIGTERM);
    const std::optional<int> code = edge_->Wait(15s);
    const std::string log = edge_->Output();
    INFO(log);
    CHECK(code == std::optional<int>(0));
    CHECK(log.find("Sanitizer") == std::string::npos);
    CHECK(log.find("runtime error") == std::string::npos);
  }

  void StartEdge() {
    std::vector<std::string> argv = {HF_EDGE,
                                     "--config",
                                     config_path_.string(),
                                     "--node",
                                     "node-1",
                                     "--admin",
                                     "127.0.0.1:0",
                                     "--workers",
                                     std::to_string(workers_),
                                     "--drain-timeout",
                                     "10",
                                     "--state-dir",
                                     (dir_.path() / "state").string()};
    argv.insert(argv.end(), edge_args_.begin(), edge_args_.end());
    edge_ = std::make_unique<Process>(argv, dir_.path() / "edge.log");
    const bool started = WaitUntil(
        [&] {
          return edge_->Output().find("event=edge.started") != std::string::npos ||
                 !edge_->Running();
        },
        10s);
    INFO(edge_->Output());
    REQUIRE(started);
    REQUIRE(edge_->Running());
    std::smatch m;
    const std::string log = edge_->Output();
    REQUIRE(std::regex_search(log, m, std::regex("admin_port=([0-9]+)")));
    admin_port_ = static_cast<uint16_t>(std::stoi(m[1]));
  }

  RunResult Curl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "10"};
    argv.insert(argv.end(), args.begin(), args.end());
    return holdfast::testing::Run(argv, dir_.path(), 20s);
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(http_port_) + path;
  }
  // The body of a GET through the edge.
  std::string Get(const std::string& path, std::vector<std::string> extra = {}) const {
    extra.push_back(Url(path));
    return Curl(extra).out;
  }
  int Status(const std::string& path, std::vector<std::string> extra = {}) const {
    extra.insert(extra.begin(), {"-o", "/dev/null", "-w", "%{http_code}"});
    extra.push_back(Url(path));
    const RunResult r = Curl(extra);
    return r.out.empty() ? 0 : std::stoi(r.out);
  }

  // A sample of /metrics, e.g. Metric("holdfast_upstream_requests_total{cluster=\"web\"}").
  double Metric(const std::string& series) const {
    const RunResult r = Curl({"http://127.0.0.1:" + std::to_string(admin_port_) + "/metrics"});
    for (size_t at = r.out.find(series + " "); at != std::string::npos;
         at = r.out.find(series + " ", at + 1)) {
      if (at == 0 || r.out[at - 1] == '\n') return std::stod(r.out.substr(at + series.size() + 1));
    }
    FAIL("no series " << series << " in /metrics:\n" << r.out);
    return -1;
  }

  // GET http://127.0.0.1:PORT/PATH straight to backend `name`, bypassing the edge.
  std::string BackendGet(const std::string& name, const std::string& path) const {
    for (const auto& b : backends_) {
      if (b->name() == name) return Curl({"http://" + b->key() + path}).out;
    }
    FAIL("no backend " << name);
    return {};
  }
  std::string BackendKey(const std::string& name) const {
    for (const auto& b : backends_) {
      if (b->name() == name) return b->key();
    }
    FAIL("no backend " << name);
    return {};
  }
  // The admin listener's /clusters, parsed by the caller.
  std::string Admin(const std::string& path) const {
    return Curl({"http://127.0.0.1:" + std::to_string(admin_port_) + path}).out;
  }

  void KillBackend(const std::string& name) {
    for (const auto& b : backends_) {
      if (b->name() == name) b->Kill();
    }
  }

  Process& edge() { return *edge_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  uint16_t http_port() const { return http_port_; }
  uint16_t tcp_port() const { return tcp_port_; }
  uint16_t https_port() const { return https_port_; }
  uint16_t tls_port() const { return tls_port_; }
  uint16_t dns_port() const { return dns_port_; }
  // The test CA that signed certs/www.pem (www.example.net) and certs/api.pem (api.example.net).
  std::string ca() const { return (dir_.path() / "certs" / "ca.pem").string(); }
  uint16_t admin_port() const { return admin_port_; }

  static constexpr const char* kListeners =
      "  - {name: http, port: {http}, protocol: http, max_connections: 50}\n"
      "  - {name: tcp, port: {tcp}, protocol: tcp, cluster: web}\n";
  static constexpr const char* kRoutes =
      "  - {name: api, match: {host: api.example.net, path_prefix: /v1/}, cluster: api}\n"
      "  - {name: web, match: {path_prefix: /}, cluster: web,"
      " retry: {attempts: 1, on: [connect_failure]}}\n";
  static constexpr const char* kClusters =
      "  - name: web\n"
      "    endpoints: [{address: 127.0.0.1, port: {web1}}, {address: 127.0.0.1, port: {web2}}]\n"
      "  - name: api\n"
      "    endpoints: [{address: 127.0.0.1, port: {api1}}]\n";
  static constexpr const char* kPops =
      "  - name: test\n    region: local\n"
      "    nodes: [{name: node-1, addresses: [127.0.0.1]}]\n";

 private:
  void MakeCertificates() {
    for (const std::vector<std::string>& cert :
         {std::vector<std::string>{"www", "www.example.net"},
          std::vector<std::string>{"api", "api.example.net"}}) {
      std::vector<std::string> argv = {kSourceDir + "/deploy/certs/make-test-certs",
                                       (dir_.path() / "certs").string()};
      argv.insert(argv.end(), cert.begin(), cert.end());
      const RunResult r = Run(argv, dir_.path());
      INFO(r.out << r.err);
      REQUIRE(r.exit_code == 0);
    }
  }

  int workers_;
  std::vector<std::string> edge_args_;
  std::string pops_yaml_;
  std::map<std::string, std::string> vars_;
  TempDir dir_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::filesystem::path config_path_;
  std::unique_ptr<Process> edge_;
  uint16_t http_port_ = 0;
  uint16_t tcp_port_ = 0;
  uint16_t https_port_ = 0;
  uint16_t tls_port_ = 0;
  uint16_t dns_port_ = 0;
  uint16_t admin_port_ = 0;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_INTEGRATION_EDGE_LAB_H_
