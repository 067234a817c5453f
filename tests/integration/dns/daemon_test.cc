// holdfast-dns, the standalone DNS daemon, as a real process: started on a free loopback port
// with a config in a temporary directory, asked with dig (bind9-dnsutils), reloaded with
// SIGHUP, stopped with SIGTERM. Every wait has a deadline; the process is killed if a test
// fails before it stops.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/dig.h"
#include "tests/support/ports.h"
#include "tests/support/process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace {

using holdfast::testing::DigResult;
using holdfast::testing::FreePort;
using holdfast::testing::Process;
using holdfast::testing::RunResult;
using holdfast::testing::TempDir;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

// Two POPs announcing web-v4, so the service name svc.example.net answers their VIPs; an https
// listener whose certificate files do not exist (a DNS-only node holds none); `www` is the
// address of www.example.net.
std::string Config(uint16_t dns_port, uint16_t https_port, const std::string& www) {
  return "listeners:\n"
         "  - {name: dns, port: " +
         std::to_string(dns_port) +
         ", protocol: dns}\n"
         "  - name: https\n"
         "    port: " +
         std::to_string(https_port) +
         "\n"
         "    protocol: https\n"
         "    tls:\n"
         "      certificates:\n"
         "        - {sni: [www.example.net], cert: missing/edge.pem, key: missing/edge.key}\n"
         "routes:\n"
         "  - {name: all, cluster: web}\n"
         "clusters:\n"
         "  - name: web\n"
         "    endpoints: [{address: 127.0.0.1, port: 9}]\n"
         "prefixes:\n"
         "  - {name: web-v4, cidr: 192.0.2.0/24}\n"
         "pops:\n"
         "  - name: ams\n"
         "    region: eu\n"
         "    capacity_weight: 100\n"
         "    nodes: [{name: ams-1, addresses: [127.0.0.1]}]\n"
         "    bgp: {local_asn: 65101, peers: [{address: 127.0.0.2, port: 1179, asn: 65000, "
         "multihop: true}]}\n"
         "    announce:\n"
         "      - {prefix: web-v4, vips: [192.0.2.10]}\n"
         "  - name: iad\n"
         "    region: us\n"
         "    capacity_weight: 100\n"
         "    nodes: [{name: iad-1, addresses: [127.0.0.2]}]\n"
         "    bgp: {local_asn: 65102, peers: [{address: 127.0.0.2, port: 1179, asn: 65000, "
         "multihop: true}]}\n"
         "    announce:\n"
         "      - {prefix: web-v4, vips: [192.0.2.20]}\n"
         "dns:\n"
         "  zones:\n"
         "    - name: example.net.\n"
         "      soa: {mname: ns1.example.net., rname: hostmaster.example.net., minimum: 120}\n"
         "      ns: [ns1.example.net.]\n"
         "      records:\n"
         "        - {name: ns1, type: a, value: 192.0.2.53}\n"
         "        - {name: www, type: a, value: " +
         www +
         "}\n"
         "        - {name: \"@\", type: mx, priority: 10, value: mail.example.net.}\n"
         "        - {name: mail, type: a, value: 192.0.2.25}\n"
         "  services:\n"
         "    - {name: svc.example.net., prefixes: [web-v4], ttl: 30, max_records: 2}\n";
}

// A holdfast-dns process serving node ams-1 (127.0.0.1) on a free port, one thread.
class Daemon {
 public:
  Daemon() : dns_port_(FreePort()), https_port_(FreePort()) {
    WriteConfig(Config(dns_port_, https_port_, "192.0.2.80"));
  }

  // Stops a daemon still running at the end of a test: it must exit 0 on SIGTERM.
  ~Daemon() {
    if (!process_ || !process_->Running()) return;
    process_->Signal(SIGTERM);
    const std::optional<int> code = process_->Wait(10s);
    INFO(process_->Output());
    CHECK(code == std::optional<int>(0));
  }

  // Written aside and renamed: the daemon never reads a half-written file.
  void WriteConfig(const std::string& text) const {
    const std::filesystem::path tmp = config_path().string() + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, config_path());
  }
  std::filesystem::path config_path() const { return dir_.path() / "dns.yaml"; }

  // Starts it and waits for its start (or its exit) for at most 10 s.
  void Start(int threads = 1, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {HF_DNS_DAEMON, "--config",  config_path().string(), "--node",
                                     "ams-1",       "--threads", std::to_string(threads)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Process>(argv, dir_.path() / "dns.log");
    const bool settled = WaitUntil(
        [&] {
          // "event=dns.started", or "event":"dns.started" with --log-format json.
          return process_->Output().find("dns.started") != std::string::npos ||
                 !process_->Running();
        },
        10s);
    INFO(process_->Output());
    REQUIRE(settled);
  }

  DigResult Dig(const std::vector<std::string>& args) const {
    return holdfast::testing::Dig{.port = dns_port_, .options = {"+norecurse"}}(args);
  }

  // Waits at most 10 s for `text` to appear in the log `count` times.
  bool WaitForLog(const std::string& text, size_t count = 1) {
    return WaitUntil(
        [&] {
          const std::string log = process_->Output();
          size_t seen = 0;
          for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
            ++seen;
          }
          return seen >= count;
        },
        10s);
  }

  Process& process() { return *process_; }
  uint16_t dns_port() const { return dns_port_; }
  uint16_t https_port() const { return https_port_; }

 private:
  TempDir dir_;
  uint16_t dns_port_;
  uint16_t https_port_;
  std::unique_ptr<Process> process_;
};

TEST_CASE("holdfast-dns answers the zone and service names without the certificates",
          "[dns][daemon]") {
  Daemon d;
  d.Start();
  REQUIRE(d.process().Running());
  INFO(d.process().Output());
  const DigResult a = d.Dig({"+short", "www.example.net", "A"});
  INFO(a.out << a.err);
  CHECK(a.out == "192.0.2.80\n");
  CHECK(d.Dig({"+tcp", "+short", "example.net", "MX"}).out == "10 mail.example.net.\n");
  // Authoritative NXDOMAIN with the SOA in authority.
  const DigResult missing = d.Dig({"nope.example.net", "A"});
  CHECK(missing.status == "NXDOMAIN");
  CHECK(missing.HasFlag("aa"));
  CHECK(missing.out.find("IN\tSOA\tns1.example.net.") != std::string::npos);
  // Never a resolver for names outside our zones.
  CHECK(d.Dig({"www.example.com", "A"}).status == "REFUSED");
  // The service name answers both POPs' VIPs (max_records 2), in either order.
  const DigResult svc = d.Dig({"+short", "svc.example.net", "A"});
  CHECK((svc.out == "192.0.2.10\n192.0.2.20\n" || svc.out == "192.0.2.20\n192.0.2.10\n"));
  const DigResult svc_full = d.Dig({"svc.example.net", "A"});
  REQUIRE(svc_full.answer.size() == 2);
  for (const holdfast::testing::DnsRecord& r : svc_full.answer) {
    CHECK(r.name == "svc.example.net.");
    CHECK(r.ttl == 30);
    CHECK(r.type == "A");
  }
}

TEST_CASE("SIGHUP applies a changed record, and a broken or moved config keeps the old answers",
          "[dns][daemon][reload]") {
  Daemon d;
  d.Start();
  REQUIRE(d.process().Running());
  REQUIRE(d.Dig({"+short", "www.example.net", "A"}).out == "192.0.2.80\n");

  d.WriteConfig(Config(d.dns_port(), d.https_port(), "192.0.2.81"));
  d.process().Signal(SIGHUP);
  CHECK(d.WaitForLog("event=dns.reloaded"));
  CHECK(WaitUntil(
      [&] {
        return d.Dig({"+short", "www.example.net", "A"}).out == "192.0.2.81\n";
      },
      10s));

  // Not an address: validation fails, the reload is refused with the finding logged.
  d.WriteConfig(Config(d.dns_port(), d.https_port(), "not-an-address"));
  d.process().Signal(SIGHUP);
  CHECK(d.WaitForLog("event=dns.reload_rejected"));
  CHECK(d.process().Output().find("event=config.finding") != std::string::npos);
  CHECK(d.process().Running());
  CHECK(d.Dig({"+short", "www.example.net", "A"}).out == "192.0.2.81\n");
  CHECK(d.Dig({"+short", "svc.example.net", "A"}).out.find("192.0.2.") != std::string::npos);

  // A file that is not YAML at all: refused the same way.
  d.WriteConfig("listeners: [\n");
  d.process().Signal(SIGHUP);
  CHECK(d.WaitForLog("event=dns.reload_rejected", 2));
  CHECK(d.Dig({"+short", "www.example.net", "A"}).out == "192.0.2.81\n");

  // A valid config on another port: the sockets stay, so it needs a restart and is refused.
  d.WriteConfig(Config(FreePort(), d.https_port(), "192.0.2.82"));
  d.process().Signal(SIGHUP);
  CHECK(d.WaitForLog("event=dns.reload_rejected", 3));
  CHECK(d.process().Output().find("restart to apply it") != std::string::npos);
  CHECK(d.Dig({"+short", "www.example.net", "A"}).out == "192.0.2.81\n");

  // SIGTERM: stops and exits 0, saying how many queries it answered.
  d.process().Signal(SIGTERM);
  CHECK(d.process().Wait(10s) == std::optional<int>(0));
  CHECK(d.process().Output().find("event=dns.stopped") != std::string::npos);
}

TEST_CASE("holdfast-dns refuses to start on an invalid config or an unknown node",
          "[dns][daemon]") {
  SECTION("invalid config") {
    Daemon d;
    d.WriteConfig(Config(d.dns_port(), d.https_port(), "not-an-address"));
    d.Start();
    CHECK(d.process().Wait(10s) == std::optional<int>(1));
    CHECK(d.process().Output().find("event=dns.config_rejected") != std::string::npos);
  }
  SECTION("unknown node") {
    Daemon d;
    std::vector<std::string> argv = {HF_DNS_DAEMON, "--config", d.config_path().string(), "--node",
                                     "nowhere-1"};
    const RunResult r = holdfast::testing::Run(argv, d.config_path().parent_path(), 10s);
    CHECK(r.exited);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no POP has a node named 'nowhere-1'") != std::string::npos);
  }
}

TEST_CASE("holdfast-dns serves with several threads and --no-rrl", "[dns][daemon]") {
  Daemon d;
  d.Start(2, {"--no-rrl", "--log-format", "json"});
  REQUIRE(d.process().Running());
  CHECK(d.process().Output().find("\"event\":\"dns.started\"") != std::string::npos);
  CHECK(d.process().Output().find("\"rrl\":\"off\"") != std::string::npos);
  // 300 queries from one address as fast as dig sends them, well past the default limit of
  // 200 responses/s per prefix: with rate limiting off, every one is answered.
  std::string batch;
  for (int i = 0; i < 300; ++i) batch += "www.example.net A +short\n";
  const std::filesystem::path batch_file = d.config_path().parent_path() / "batch.txt";
  std::ofstream(batch_file) << batch;
  const DigResult burst = d.Dig({"+time=1", "-f", batch_file.string()});
  size_t answered = 0;
  for (size_t at = burst.out.find("192.0.2.80\n"); at != std::string::npos;
       at = burst.out.find("192.0.2.80\n", at + 1)) {
    ++answered;
  }
  CHECK(answered == 300);
  CHECK(d.Dig({"+tcp", "+short", "www.example.net", "A"}).out == "192.0.2.80\n");
}

}  // namespace
