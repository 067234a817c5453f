// The control plane with real processes on loopback: holdfast-control (SQLite store, mTLS with a
// test CA), two holdfast-edge nodes under it (127.0.0.1 and 127.0.0.2), python backends, and
// holdfastctl as an SRE runs it; curl checks what the edges serve.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "holdfast/v1/control.grpc.pb.h"
#include "tests/support/backends.h"
#include "tests/support/bird.h"
#include "tests/support/dig.h"
#include "tests/support/ports.h"
#include "tests/support/process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace {

using holdfast::testing::Backend;
using holdfast::testing::Bird;
using holdfast::testing::BirdRoute;
using holdfast::testing::Dig;
using holdfast::testing::FreePort;
using holdfast::testing::Process;
using holdfast::testing::Run;
using holdfast::testing::RunResult;
using holdfast::testing::TempDir;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

const std::string kSourceDir = HF_SOURCE_DIR;

// The config of BIRD 2 on 127.0.0.3:`port` with one BGP protocol per edge node of the GSLB
// config: e1 for n1 (127.0.0.1, AS 65001), e2 for n2 (127.0.0.2, AS 65002).
std::string RouterConfig(uint16_t port) {
  std::string conf = "router id 10.255.0.3;\nlog \"{dir}/bird.log\" all;\nprotocol device {}\n";
  // The edges only connect out; BIRD's own attempts go to ports nobody listens on.
  for (const auto& [name, address, asn] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"e1", "127.0.0.1", "65001"}, {"e2", "127.0.0.2", "65002"}}) {
    conf += "protocol bgp " + name + " {\n  local 127.0.0.3 port " + std::to_string(port) +
            " as 65000;\n  neighbor " + address + " port " + std::to_string(FreePort()) + " as " +
            asn +
            ";\n  multihop;\n  hold time 3;\n  keepalive time 1;\n  connect retry time 1;\n"
            "  error wait time 1, 2;\n  ipv4 { import all; export none; };\n}\n";
  }
  return conf;
}

// A control plane, edge nodes n1 (127.0.0.1) and n2 (127.0.0.2) of POP "test", and backends
// web1 and web2. Every process stops when the lab goes.
class ControlLab {
 public:
  // `plan_interval_ms`: the control plane's --plan-interval-ms (its rollout tick too); 0 leaves
  // its default.
  explicit ControlLab(int plan_interval_ms = 0) : plan_interval_ms_(plan_interval_ms) {
    // The control plane's CA signs everyone: the server, two operators' roles, the edges.
    Certs({"control", "localhost", "IP:127.0.0.1"});
    Certs({"--ou", "operator", "alice", "alice"});
    Certs({"--ou", "viewer", "victor", "victor"});
    Certs({"--ou", "edge", "n1", "n1"});
    Certs({"--ou", "edge", "n2", "n2"});
    for (const char* name : {"web1", "web2"}) {
      backends_.emplace(name, std::make_unique<Backend>(name, dir_.path()));
    }
    control_port_ = FreePort();
    http_port_ = FreePort();
    dns_port_ = FreePort();
    StartControl();
  }

  // The plan test's config: POPs p1 (n1) and p2 (n2) each with a VIP for www.example.net in
  // one prefix, a dns listener, and the plan's hysteresis at one report. Both peer (multihop)
  // with the lab's router, BIRD at 127.0.0.3 (started here): a POP counts as announcing only
  // while a router hears it.
  std::string WriteGslbConfig() {
    const std::string peers = "[{address: 127.0.0.3, port: " + std::to_string(StartRouter()) +
                              ", asn: 65000, hold_time: 3s, multihop: true}]";
    const std::filesystem::path path = dir_.path() / "holdfast.yaml";
    std::ofstream(path)
        << "listeners:\n"
        << "  - {name: http, port: " << http_port_ << ", protocol: http}\n"
        << "  - {name: dns, port: " << dns_port_ << ", protocol: dns}\n"
        << "routes:\n  - {name: all, cluster: web}\n"
        << "clusters:\n  - name: web\n    endpoints: [{address: 127.0.0.1, port: "
        << backends_.at("web1")->port() << "}]\n"
        << "prefixes:\n  - {name: web-v4, cidr: 192.0.2.0/24}\n"
        << "pops:\n"
        << "  - {name: p1, region: r1, nodes: [{name: n1, addresses: [127.0.0.1]}],"
        << " announce: [{prefix: web-v4, vips: [192.0.2.1]}], bgp: {local_asn: 65001,"
        << " peers: " << peers << "}}\n"
        << "  - {name: p2, region: r2, nodes: [{name: n2, addresses: [127.0.0.2]}],"
        << " announce: [{prefix: web-v4, vips: [192.0.2.2]}], bgp: {local_asn: 65002,"
        << " peers: " << peers << "}}\n"
        << "dns:\n  zones:\n    - name: example.net.\n"
        << "      soa: {mname: ns1.example.net., rname: hostmaster.example.net.}\n"
        << "      ns: [ns1.example.net.]\n"
        << "      records: [{name: ns1, type: a, value: 192.0.2.53}]\n"
        << "  services:\n    - {name: www.example.net., prefixes: [web-v4]}\n"
        << "safety:\n  health: {stale_after: 3s, withdraw_after: 1, restore_after: 1}\n"
        // Before n1's first report every POP looks unhealthy, which the governor rightly
        // takes for a correlated failure and freezes; this test is about the plan reaching DNS.
        << "  correlated_failure: {fraction: 1}\n";
    return path.string();
  }
  // The addresses edge `address` answers for www.example.net, sorted, one per line.
  std::string Www(const std::string& address) const {
    const Dig dig{.server = address, .port = dns_port_};
    std::vector<std::string> lines;
    std::istringstream in(dig({"+short", "www.example.net", "A"}).out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (const std::string& l : lines) out += l + "\n";
    return out;
  }

  ~ControlLab() {
    for (auto& [name, edge] : edges_) {
      if (!edge->Running()) continue;
      edge->Signal(SIGTERM);
      const std::optional<int> code = edge->Wait(15s);
      INFO(name << ": " << edge->Output());
      CHECK(code == std::optional<int>(0));
      CHECK(edge->Output().find("Sanitizer") == std::string::npos);
    }
  }

  const std::filesystem::path& dir() const { return dir_.path(); }
  uint16_t control_port() const { return control_port_; }
  // The router of the GSLB config (RouterConfig), started once; returns its port.
  uint16_t StartRouter() {
    if (bird_ == nullptr) {
      bird_port_ = FreePort("127.0.0.3");
      bird_ = std::make_unique<Bird>(RouterConfig(bird_port_));
      // Listening once the protocols have started: an edge's first connection must find it.
      REQUIRE(bird_->WaitProtocolState("e1", {"Active", "Connect"}));
      REQUIRE(bird_->WaitProtocolState("e2", {"Active", "Connect"}));
    }
    return bird_port_;
  }
  const Bird& bird() const { return *bird_; }
  std::string pki(const std::string& file) const { return (dir_.path() / "pki" / file).string(); }

  void StartControl() {
    control_ = std::make_unique<Process>(
        std::vector<std::string>{
            HF_CONTROL, "--listen", "127.0.0.1:" + std::to_string(control_port_), "--store",
            "sqlite:" + (dir_.path() / "control.db").string(), "--tls-cert", pki("control.pem"),
            "--tls-key", pki("control.key"), "--client-ca", pki("ca.pem"), "--plan-interval-ms",
            std::to_string(plan_interval_ms_ == 0 ? 2000 : plan_interval_ms_)},
        dir_.path() / "control.log");
    REQUIRE(WaitUntil(
        [&] { return control_->Output().find("event=control.started") != std::string::npos; },
        10s));
  }
  void KillControl() {
    control_->Signal(SIGKILL);
    control_->Wait(5s);
  }

  // Starts (or restarts) edge `node`; `files_dir` is where its certificates are.
  void StartEdge(const std::string& node, const std::string& files_dir = "") {
    const std::filesystem::path state = dir_.path() / ("state-" + node);
    std::vector<std::string> argv = {HF_EDGE,
                                     "--control",
                                     "127.0.0.1:" + std::to_string(control_port_),
                                     "--control-ca",
                                     pki("ca.pem"),
                                     "--control-cert",
                                     pki(node + ".pem"),
                                     "--control-key",
                                     pki(node + ".key"),
                                     "--node",
                                     node,
                                     "--state-dir",
                                     state.string(),
                                     "--files-dir",
                                     files_dir.empty() ? dir_.path().string() : files_dir,
                                     "--admin",
                                     "127.0.0.1:0",
                                     "--workers",
                                     "1",
                                     "--drain-timeout",
                                     "5"};
    edges_[node] = std::make_unique<Process>(argv, dir_.path() / (node + ".log"));
  }
  Process& edge(const std::string& node) { return *edges_.at(node); }

  // The config of every version: POP test with n1 and n2, an http listener, and a route to
  // `backends` (of web1, web2). `extra_listeners` goes at the end of the listener list.
  std::string WriteConfig(const std::vector<std::string>& backends,
                          const std::string& extra_listeners = "") {
    std::string endpoints;
    for (const std::string& b : backends) {
      endpoints += "{address: 127.0.0.1, port: " + std::to_string(backends_.at(b)->port()) + "}, ";
    }
    const std::filesystem::path path = dir_.path() / "holdfast.yaml";
    std::ofstream(path) << "listeners:\n"
                        << "  - {name: http, port: " << http_port_ << ", protocol: http}\n"
                        << extra_listeners << "routes:\n  - {name: all, cluster: web}\n"
                        << "clusters:\n  - name: web\n    endpoints: [" << endpoints << "]\n"
                        << "pops:\n  - name: test\n    region: local\n    nodes:\n"
                        << "      - {name: n1, addresses: [127.0.0.1]}\n"
                        << "      - {name: n2, addresses: [127.0.0.2]}\n";
    return path.string();
  }

  // The rollout tests' config: POPs p1 (n1, 127.0.0.1) and p2 (n2, 127.0.0.2), an http
  // listener (then `extra_listeners`), one route to cluster web with the one endpoint
  // 127.0.0.1:`port`, and safety.rollout: wave canary (p1), then wave rest (fraction 1), each
  // baking `bake`; `health_check` (YAML flow) checks the endpoint. The governor's
  // correlated-failure freeze is off (fraction 1): before their first reports both POPs look
  // unhealthy, which is not what these tests are about.
  std::string WriteRolloutConfig(uint16_t port, const std::string& extra_listeners = "",
                                 const std::string& bake = "3s",
                                 const std::string& health_check = "") {
    const std::filesystem::path path = dir_.path() / "holdfast.yaml";
    std::ofstream(path)
        << "listeners:\n"
        << "  - {name: http, port: " << http_port_ << ", protocol: http}\n"
        << extra_listeners << "routes:\n  - {name: all, cluster: web}\n"
        << "clusters:\n  - name: web\n    endpoints: [{address: 127.0.0.1, port: " << port << "}]\n"
        << (health_check.empty() ? "" : "    health_check: " + health_check + "\n") << "pops:\n"
        << "  - {name: p1, region: r1, nodes: [{name: n1, addresses: [127.0.0.1]}]}\n"
        << "  - {name: p2, region: r2, nodes: [{name: n2, addresses: [127.0.0.2]}]}\n"
        << "safety:\n  correlated_failure: {fraction: 1}\n"
        << "  rollout:\n    bake_time: " << bake << "\n"
        << "    waves: [{name: canary, pops: [p1]}, {name: rest, fraction: 1}]\n";
    return path.string();
  }
  uint16_t backend_port(const std::string& name) const { return backends_.at(name)->port(); }
  std::string ControlOutput() const { return control_->Output(); }

  // Server certificates NAME.example.net (NAME.pem, NAME.key) for each NAME of `names`, in
  // DIR/certs under the lab's directory: a node's --files-dir.
  void MakeFileCerts(const std::string& dir, const std::vector<std::string>& names) const {
    for (const std::string& name : names) {
      const RunResult r = Run({kSourceDir + "/deploy/certs/make-test-certs",
                               (dir_.path() / dir / "certs").string(), name, name + ".example.net"},
                              dir_.path());
      REQUIRE(r.exit_code == 0);
    }
  }

  // holdfastctl against the lab's control plane as `who` (alice: operator, victor: viewer).
  RunResult Ctl(std::vector<std::string> args, const std::string& who = "alice") const {
    std::vector<std::string> argv = {HF_HOLDFASTCTL};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const std::string& a :
         {std::string("--server"), "127.0.0.1:" + std::to_string(control_port_),
          std::string("--ca"), pki("ca.pem"), std::string("--cert"), pki(who + ".pem"),
          std::string("--key"), pki(who + ".key")}) {
      argv.push_back(a);
    }
    return Run(argv, dir_.path(), 30s);
  }

  // `holdfastctl status --format json`, parsed; null when it failed.
  nlohmann::json Status() const {
    const RunResult r = Ctl({"status", "--format", "json"});
    if (r.exit_code != 0) return nullptr;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  // The status entry of `node`, or null.
  nlohmann::json Node(const std::string& node) const {
    const nlohmann::json s = Status();
    if (s.is_null() || !s.contains("nodes")) return nullptr;
    for (const auto& n : s["nodes"]) {
      if (n.value("node", "") == node) return n;
    }
    return nullptr;
  }
  // Until `node` acknowledged `version` (connected), within 20 s.
  bool WaitAcked(const std::string& node, int version) const {
    return WaitUntil(
        [&] {
          const nlohmann::json n = Node(node);
          return !n.is_null() && n.value("acked_version", "0") == std::to_string(version);
        },
        20s);
  }

  // GET / through node's http listener: the backend's answer, or "" when nothing answers.
  std::string Get(const std::string& address) const {
    const RunResult r = Run({"/usr/bin/curl", "-s", "--max-time", "3",
                             "http://" + address + ":" + std::to_string(http_port_) + "/"},
                            dir_.path(), 10s);
    return r.out;
  }

 private:
  void Certs(std::vector<std::string> args) {
    std::vector<std::string> argv = {kSourceDir + "/deploy/certs/make-test-certs"};
    size_t at = args.size() > 0 && args[0] == "--ou" ? 2 : 0;
    argv.insert(argv.end(), args.begin(), args.begin() + static_cast<long>(at));
    argv.push_back((dir_.path() / "pki").string());
    argv.insert(argv.end(), args.begin() + static_cast<long>(at), args.end());
    const RunResult r = Run(argv, dir_.path());
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }

  TempDir dir_;
  // Stops after the edges (members go in reverse order), so they leave it with a NOTIFICATION.
  std::unique_ptr<Bird> bird_;
  uint16_t bird_port_ = 0;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  std::unique_ptr<Process> control_;
  std::map<std::string, std::unique_ptr<Process>> edges_;
  uint16_t control_port_ = 0;
  uint16_t http_port_ = 0;
  uint16_t dns_port_ = 0;
  int plan_interval_ms_ = 0;
};

TEST_CASE("an applied config reaches every edge, which acknowledges and serves it", "[control]") {
  ControlLab lab;
  lab.StartEdge("n1");
  lab.StartEdge("n2");
  // Configless edges wait for the control plane's first version.
  const RunResult apply = lab.Ctl({"apply", lab.WriteConfig({"web1"}), "--reason", "first"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(apply.out.find("applied as version 1") != std::string::npos);
  REQUIRE(lab.WaitAcked("n1", 1));
  REQUIRE(lab.WaitAcked("n2", 1));
  CHECK(lab.Get("127.0.0.1") == "web1 /\n");
  CHECK(lab.Get("127.0.0.2") == "web1 /\n");

  // plan shows the change without applying it; apply pushes it.
  const std::string next = lab.WriteConfig({"web2"});
  const RunResult plan = lab.Ctl({"plan", next});
  CHECK(plan.exit_code == 0);
  CHECK(plan.out.find("~ cluster web") != std::string::npos);
  CHECK(lab.Node("n1").value("acked_version", "") == "1");
  REQUIRE(lab.Ctl({"apply", next, "--reason", "move to web2"}).exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 2));
  REQUIRE(lab.WaitAcked("n2", 2));
  CHECK(lab.Get("127.0.0.1") == "web2 /\n");
  CHECK(lab.Get("127.0.0.2") == "web2 /\n");
  // A node's POP is the one the config gives it; its health arrives with its reports.
  CHECK(lab.Node("n1").value("pop", "") == "test");
  CHECK(WaitUntil(
      [&] {
        const nlohmann::json n = lab.Node("n1");
        return !n.is_null() && n.contains("report") && n["report"].contains("clusters");
      },
      10s));
  const nlohmann::json n1 = lab.Node("n1");
  CHECK(n1.value("connected", false));
  CHECK(n1["report"]["clusters"][0].value("healthy_endpoints", 0) == 1);
  // Its load: the requests above, counted.
  CHECK(WaitUntil(
      [&] { return std::stoi(lab.Node("n1")["report"].value("requests_total", "0")) >= 2; }, 10s));
}

TEST_CASE("an invalid config is refused by the control plane with its findings", "[control]") {
  ControlLab lab;
  const std::string path = lab.WriteConfig({"web1"});
  std::ofstream(path, std::ios::app) << "bogus_key: 1\n";
  const RunResult apply = lab.Ctl({"apply", path, "--reason", "typo"});
  CHECK(apply.exit_code == 1);
  CHECK(apply.out.find("HF1005") != std::string::npos);
  CHECK(lab.Ctl({"history"}).out.empty());
}

// An https listener on `port` serving certs/CERT.pem (relative to the node's --files-dir).
std::string HttpsListener(uint16_t port, const std::string& cert) {
  return "  - name: https\n    port: " + std::to_string(port) +
         "\n    protocol: https\n    tls:\n      certificates:\n        - {cert: certs/" + cert +
         ".pem, key: certs/" + cert + ".key}\n";
}

TEST_CASE("a config one edge cannot apply is NACKed with its reason, and it keeps serving",
          "[control]") {
  ControlLab lab;
  // n1 has both certificates, n2 only the first one.
  lab.MakeFileCerts("files-n1", {"www", "api"});
  lab.MakeFileCerts("files-n2", {"www"});
  const uint16_t https = FreePort();
  auto tls = [&](const std::string& cert) { return HttpsListener(https, cert); };
  lab.StartEdge("n1", (lab.dir() / "files-n1").string());
  lab.StartEdge("n2", (lab.dir() / "files-n2").string());
  REQUIRE(lab.Ctl({"apply", lab.WriteConfig({"web1"}, tls("www")), "--reason", "tls"}).exit_code ==
          0);
  REQUIRE(lab.WaitAcked("n1", 1));
  REQUIRE(lab.WaitAcked("n2", 1));

  REQUIRE(
      lab.Ctl({"apply", lab.WriteConfig({"web2"}, tls("api")), "--reason", "new cert"}).exit_code ==
      0);
  REQUIRE(lab.WaitAcked("n1", 2));
  REQUIRE(WaitUntil([&] { return lab.Node("n2").value("nacked_version", "") == "2"; }, 20s));
  const nlohmann::json n2 = lab.Node("n2");
  INFO(n2.dump());
  CHECK(n2.value("acked_version", "") == "1");
  CHECK(n2.value("nack_reason", "").find("HF3001") != std::string::npos);
  // n2 goes on with version 1; n1 serves version 2.
  CHECK(lab.Get("127.0.0.2") == "web1 /\n");
  CHECK(lab.Get("127.0.0.1") == "web2 /\n");
  const RunResult status = lab.Ctl({"status"});
  CHECK(status.out.find("NACK 2") != std::string::npos);
}

TEST_CASE("edges serve on without the control plane, restart from their last version, resync",
          "[control]") {
  ControlLab lab;
  lab.StartEdge("n1");
  lab.StartEdge("n2");
  REQUIRE(lab.Ctl({"apply", lab.WriteConfig({"web1"}), "--reason", "first"}).exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 1));
  REQUIRE(lab.WaitAcked("n2", 1));

  lab.KillControl();
  CHECK(lab.Get("127.0.0.1") == "web1 /\n");
  // An edge restarted while the control plane is down serves what it had (fail static).
  lab.edge("n1").Signal(SIGTERM);
  REQUIRE(lab.edge("n1").Wait(15s) == std::optional<int>(0));
  lab.StartEdge("n1");
  REQUIRE(WaitUntil(
      [&] {
        return lab.edge("n1").Output().find("event=edge.snapshot_loaded") != std::string::npos &&
               lab.Get("127.0.0.1") == "web1 /\n";
      },
      10s));
  CHECK(lab.Get("127.0.0.2") == "web1 /\n");

  // The control plane comes back: the edges reconnect, and the next version reaches them.
  lab.StartControl();
  REQUIRE(WaitUntil(
      [&] {
        const nlohmann::json a = lab.Node("n1");
        const nlohmann::json b = lab.Node("n2");
        return !a.is_null() && !b.is_null() && a.value("connected", false) &&
               b.value("connected", false);
      },
      45s));
  REQUIRE(lab.Ctl({"apply", lab.WriteConfig({"web2"}), "--reason", "after"}).exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 2));
  REQUIRE(lab.WaitAcked("n2", 2));
  CHECK(lab.Get("127.0.0.2") == "web2 /\n");
}

TEST_CASE("rollback brings the earlier config back to every edge, in the history", "[control]") {
  ControlLab lab;
  lab.StartEdge("n1");
  REQUIRE(lab.Ctl({"apply", lab.WriteConfig({"web1"}), "--reason", "good"}).exit_code == 0);
  REQUIRE(lab.Ctl({"apply", lab.WriteConfig({"web2"}), "--reason", "bad"}).exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 2));
  CHECK(lab.Get("127.0.0.1") == "web2 /\n");
  const RunResult rollback = lab.Ctl({"rollback", "--reason", "web2 broke"});
  INFO(rollback.out << rollback.err);
  REQUIRE(rollback.exit_code == 0);
  CHECK(rollback.out.find("version 3 is in force") != std::string::npos);
  REQUIRE(lab.WaitAcked("n1", 3));
  CHECK(lab.Get("127.0.0.1") == "web1 /\n");
  const RunResult history = lab.Ctl({"history"});
  CHECK(history.out.find("rollback to 1: web2 broke") != std::string::npos);
  CHECK(lab.Ctl({"show", "1"}).out.find("name: web") != std::string::npos);
}

TEST_CASE("a viewer may look but not change, other callers are refused, refusals are audited",
          "[control]") {
  ControlLab lab;
  const std::string config = lab.WriteConfig({"web1"});
  CHECK(lab.Ctl({"status"}, "victor").exit_code == 0);
  CHECK(lab.Ctl({"plan", config}, "victor").exit_code == 0);
  const RunResult refused = lab.Ctl({"apply", config, "--reason", "sneaky"}, "victor");
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("role viewer may not apply") != std::string::npos);
  // An edge's certificate is no operator's either.
  CHECK(lab.Ctl({"rollback", "--reason", "x"}, "n1").exit_code == 1);
  // Without a client certificate nothing is answered, and plaintext gets no further than TLS.
  const std::string server = "127.0.0.1:" + std::to_string(lab.control_port());
  const RunResult anonymous = Run(
      {HF_HOLDFASTCTL, "status", "--server", server, "--ca", lab.pki("ca.pem")}, lab.dir(), 10s);
  CHECK(anonymous.exit_code == 1);
  CHECK(anonymous.err.find("no client certificate") != std::string::npos);
  CHECK(
      Run({HF_HOLDFASTCTL, "status", "--server", server, "--insecure"}, lab.dir(), 10s).exit_code ==
      3);
  const RunResult audit = lab.Ctl({"audit"});
  INFO(audit.out);
  CHECK(audit.out.find("REFUSED  victor (viewer)  apply") != std::string::npos);
  CHECK(audit.out.find("REFUSED  n1 (edge)") != std::string::npos);
  CHECK(audit.out.find("REFUSED  anonymous (-)  status  no client certificate") !=
        std::string::npos);
  CHECK(lab.Ctl({"history"}).out.empty());
}

TEST_CASE("DNS answers follow the control plane's plan: a POP that stops reporting leaves them",
          "[control][dns]") {
  ControlLab lab;
  lab.StartEdge("n1");
  const RunResult apply = lab.Ctl({"apply", lab.WriteGslbConfig(), "--reason", "gslb"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 1));
  // n2 never reports: stale after 3 s, withdrawn by the next plan (the floor of one POP is met
  // by p1), and DNS answers only p1's VIP; never an empty answer on the way.
  bool never_empty = true;
  const bool moved = WaitUntil(
      [&] {
        const std::string www = lab.Www("127.0.0.1");
        never_empty = never_empty && !www.empty();
        return www == "192.0.2.1\n";
      },
      30s);
  INFO(lab.Ctl({"status"}).out);
  CHECK(moved);
  CHECK(never_empty);
  const nlohmann::json status = lab.Status();
  REQUIRE(status.contains("plan"));
  for (const auto& pop : status["plan"]["prefixes"][0]["pops"]) {
    CHECK(pop["state"] == (pop["pop"] == "p1" ? "ANNOUNCED" : "WITHDRAWN"));
  }
  // The governor's memory outlives the control plane: after a restart, the rate limit still
  // counts the withdrawal of p2 from before it (its time, not a new one).
  REQUIRE(status["plan"].contains("withdrawals"));
  const nlohmann::json withdrawals = status["plan"]["withdrawals"];
  lab.KillControl();
  lab.StartControl();
  CHECK(WaitUntil(
      [&] {
        const nlohmann::json after = lab.Status();
        return !after.is_null() && after.contains("plan") &&
               after["plan"].value("withdrawals", nlohmann::json()) == withdrawals;
      },
      10s));
  // n2 comes and reports healthy: it is back in the answers.
  lab.StartEdge("n2");
  CHECK(WaitUntil([&] { return lab.Www("127.0.0.1") == "192.0.2.1\n192.0.2.2\n"; }, 30s));
}

// ---- operator intents -------------------------------------------------------------------------

// The state the plan in force gives `pop` for the first prefix, "" when there is none.
std::string PlanState(const nlohmann::json& status, const std::string& pop) {
  if (status.is_null() || !status.contains("plan")) return "";
  for (const auto& d : status["plan"]["prefixes"][0]["pops"]) {
    if (d.value("pop", "") == pop) return d.value("state", "");
  }
  return "";
}

// Until the plan in force says `p1` for p1 and `p2` for p2, within `deadline`.
bool WaitPlan(const ControlLab& lab, const std::string& p1, const std::string& p2,
              std::chrono::milliseconds deadline = 20s) {
  return WaitUntil(
      [&] {
        const nlohmann::json s = lab.Status();
        return PlanState(s, "p1") == p1 && PlanState(s, "p2") == p2;
      },
      deadline);
}

// The ids of the intents in force, as `holdfastctl intents --format json` lists them.
std::vector<std::string> IntentIds(const ControlLab& lab) {
  const RunResult r = lab.Ctl({"intents", "--format", "json"});
  std::vector<std::string> ids;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || j.is_discarded() || !j.contains("intents")) return ids;
  for (const auto& i : j["intents"]) ids.push_back(i.value("id", ""));
  return ids;
}

// GSLB config applied, both edges acknowledged it and report: both POPs announce.
void StartGslb(ControlLab& lab) {
  lab.StartEdge("n1");
  lab.StartEdge("n2");
  const RunResult apply = lab.Ctl({"apply", lab.WriteGslbConfig(), "--reason", "gslb"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 1));
  REQUIRE(lab.WaitAcked("n2", 1));
  INFO(lab.Ctl({"status"}).out);
  REQUIRE(WaitPlan(lab, "ANNOUNCED", "ANNOUNCED"));
}

TEST_CASE("an edge that drains says so before its stream closes, and its POP leaves at once",
          "[control][dns]") {
  ControlLab lab;
  StartGslb(lab);
  lab.edge("n2").Signal(SIGTERM);
  // p2 is withdrawn for its draining node at once, while it still drains (its router is told
  // GRACEFUL_SHUTDOWN and given up to 5 s): the first plan that withdraws it gives that reason.
  std::string reason;
  const bool withdrawn = WaitUntil(
      [&] {
        const nlohmann::json s = lab.Status();
        if (PlanState(s, "p2") != "WITHDRAWN") return false;
        for (const auto& d : s["plan"]["prefixes"][0]["pops"]) {
          if (d.value("pop", "") == "p2") reason = d.value("reason", "");
        }
        return true;
      },
      10s);
  INFO(lab.Ctl({"status"}).out);
  REQUIRE(withdrawn);
  CHECK_THAT(reason, Catch::Contains("every node is draining"));
  CHECK(PlanState(lab.Status(), "p1") == "ANNOUNCED");
  REQUIRE(lab.edge("n2").Wait(15s) == std::optional<int>(0));
  CHECK(WaitUntil([&] { return lab.Www("127.0.0.1") == "192.0.2.1\n"; }, 10s));
  CHECK_THAT(lab.Ctl({"status"}).out, Catch::Contains("draining"));
}

TEST_CASE("a POP its router stops hearing no longer counts, and leaves DNS within a plan",
          "[control][dns][bgp]") {
  // WhatsApp 2014: the router's sessions die while the edge serves and reports healthy.
  ControlLab lab;
  StartGslb(lab);
  REQUIRE(WaitUntil([&] { return lab.Www("127.0.0.1") == "192.0.2.1\n192.0.2.2\n"; }, 20s));
  INFO(lab.bird().Cli("show protocols"));
  lab.bird().Cli("disable e1");
  // n1 reports its session down at once and the control plane plans at once: well before the
  // 2 s tick and the 3 s staleness would have done it.
  bool never_empty = true;
  const auto since = std::chrono::steady_clock::now();
  const bool left = WaitUntil(
      [&] {
        const std::string www = lab.Www("127.0.0.2");
        never_empty = never_empty && !www.empty();
        return www == "192.0.2.2\n";
      },
      10s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - since);
  INFO(lab.Ctl({"status"}).out);
  REQUIRE(left);
  CHECK(never_empty);
  UNSCOPED_INFO("p1 left DNS " << took.count() << " ms after its session was cut");
  const nlohmann::json status = lab.Status();
  CHECK(status["plan"]["prefixes"][0]["announcing"] == 1);
  for (const auto& d : status["plan"]["prefixes"][0]["pops"]) {
    if (d.value("pop", "") == "p1") {
      CHECK_THAT(d.value("reason", ""), Catch::Contains("not heard by its routers"));
    }
  }
  // The session comes back (the edge tries again after its connect-retry time, 30 s): p1
  // counts again and is handed out again.
  lab.bird().Cli("enable e1");
  CHECK(WaitUntil([&] { return lab.Www("127.0.0.2") == "192.0.2.1\n192.0.2.2\n"; }, 45s));
}

TEST_CASE("drain, withdraw and restore a POP through holdfastctl, audited, kept across restarts",
          "[control][intents]") {
  ControlLab lab;
  StartGslb(lab);

  // Refused before the governor: a viewer, an unknown POP or prefix, no reason.
  const RunResult viewer = lab.Ctl({"drain", "p2", "--reason", "sneaky"}, "victor");
  CHECK(viewer.exit_code == 1);
  CHECK_THAT(viewer.err, Catch::Contains("role viewer may not add-intent"));
  const RunResult unknown = lab.Ctl({"drain", "nowhere", "--reason", "typo"});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("no POP named 'nowhere'"));
  const RunResult prefix = lab.Ctl({"withdraw", "p1", "--prefix", "web-v6", "--reason", "typo"});
  CHECK(prefix.exit_code == 1);
  CHECK_THAT(prefix.err, Catch::Contains("no prefix named 'web-v6'"));
  const RunResult no_reason = lab.Ctl({"withdraw", "p1", "--reason", "", "--break-glass"});
  CHECK(no_reason.exit_code == 1);
  CHECK_THAT(no_reason.err, Catch::Contains("break-glass needs a reason"));
  CHECK(IntentIds(lab).empty());

  // Drain p2: in the plan at once, and what the plan says is printed.
  const RunResult drain = lab.Ctl({"drain", "p2", "--reason", "fibre works"});
  INFO(drain.out << drain.err);
  REQUIRE(drain.exit_code == 0);
  CHECK_THAT(drain.out, Catch::Contains("intent 1 in force: drain p2"));
  CHECK_THAT(drain.out, Catch::Contains("DRAINING"));
  CHECK(PlanState(lab.Status(), "p2") == "DRAINING");
  CHECK(PlanState(lab.Status(), "p1") == "ANNOUNCED");
  // DNS answers only p1 now.
  CHECK(WaitUntil([&] { return lab.Www("127.0.0.1") == "192.0.2.1\n"; }, 10s));

  // Withdraw p2 as a second intent: it wins over the drain while both are in force.
  const RunResult withdraw = lab.Ctl({"withdraw", "p2", "--reason", "router swap"});
  INFO(withdraw.out << withdraw.err);
  REQUIRE(withdraw.exit_code == 0);
  CHECK_THAT(withdraw.out, Catch::Contains("WITHDRAWN"));
  CHECK(WaitPlan(lab, "ANNOUNCED", "WITHDRAWN", 5s));

  // Withdrawing p1 too would leave nothing: the governor refuses, nothing changes.
  const RunResult floor = lab.Ctl({"withdraw", "p1", "--reason", "oops"});
  INFO(floor.out << floor.err);
  CHECK(floor.exit_code == 4);
  CHECK_THAT(floor.err, Catch::Contains("the governor refused withdraw p1"));
  CHECK_THAT(floor.err, Catch::Contains("would leave 0 of required 1"));
  CHECK_THAT(floor.out, Catch::Contains("ANNOUNCED"));
  CHECK(IntentIds(lab) == std::vector<std::string>{"1", "2"});
  CHECK(PlanState(lab.Status(), "p1") == "ANNOUNCED");

  // The intents survive a control-plane crash, and hold in its first plans.
  lab.KillControl();
  lab.StartControl();
  CHECK(IntentIds(lab) == std::vector<std::string>{"1", "2"});
  CHECK(WaitPlan(lab, "ANNOUNCED", "WITHDRAWN", 45s));
  // Until p1's node has reported to the new control plane, the floor cannot count p1 (unknown),
  // and the governor would measure the next intents against that.
  CHECK(WaitUntil(
      [&] {
        const nlohmann::json s = lab.Status();
        if (s.is_null() || !s.contains("plan")) return false;
        // And p2 still withdrawn by its intent in that same plan: once, under load, a plan
        // between the restart and p2's first report showed p2 announcing (see issue 14's note).
        bool p1_healthy = false;
        bool p2_withdrawn = false;
        for (const auto& d : s["plan"]["prefixes"][0]["pops"]) {
          if (d.value("pop", "") == "p1") p1_healthy = d.value("reason", "") == "healthy";
          if (d.value("pop", "") == "p2") p2_withdrawn = d.value("state", "") == "WITHDRAWN";
        }
        return p1_healthy && p2_withdrawn;
      },
      20s));
  const RunResult list = lab.Ctl({"intents"});
  INFO(list.out);
  CHECK_THAT(list.out, Catch::Contains("router swap"));
  CHECK_THAT(list.out, Catch::Contains("alice"));
  CHECK_THAT(lab.Ctl({"status"}).out, Catch::Contains("operator intents in force"));

  // Break-glass takes the last POP out, with an alarm; restoring it brings it back.
  const RunResult glass =
      lab.Ctl({"withdraw", "p1", "--reason", "whole-site evacuation", "--break-glass"});
  INFO(glass.out << glass.err);
  REQUIRE(glass.exit_code == 0);
  CHECK_THAT(glass.out, Catch::Contains("ALARM break_glass"));
  CHECK(WaitPlan(lab, "WITHDRAWN", "WITHDRAWN", 5s));
  REQUIRE(lab.Ctl({"restore", "3", "--reason", "evacuation over"}).exit_code == 0);
  CHECK(WaitPlan(lab, "ANNOUNCED", "WITHDRAWN", 5s));

  // Restore the withdrawal: the drain is still in force; then the drain.
  const RunResult restore = lab.Ctl({"restore", "2", "--reason", "swap done"});
  INFO(restore.out << restore.err);
  REQUIRE(restore.exit_code == 0);
  CHECK_THAT(restore.out, Catch::Contains("DRAINING"));
  CHECK(WaitPlan(lab, "ANNOUNCED", "DRAINING", 5s));
  CHECK(lab.Ctl({"restore", "2", "--reason", "again"}).exit_code == 1);  // gone already
  REQUIRE(lab.Ctl({"restore", "1", "--reason", "works done"}).exit_code == 0);
  CHECK(WaitPlan(lab, "ANNOUNCED", "ANNOUNCED", 5s));
  CHECK(IntentIds(lab).empty());
  CHECK(WaitUntil([&] { return lab.Www("127.0.0.1") == "192.0.2.1\n192.0.2.2\n"; }, 10s));

  const RunResult audit = lab.Ctl({"audit", "--limit", "100"});
  INFO(audit.out);
  CHECK_THAT(audit.out,
             Catch::Contains("alice (operator)  add-intent  intent 1: drain p2: fibre works"));
  CHECK_THAT(audit.out,
             Catch::Contains("alice (operator)  add-intent  intent 2: withdraw p2: router swap"));
  CHECK_THAT(audit.out,
             Catch::Contains("REFUSED  alice (operator)  add-intent  withdraw p1: oops"));
  CHECK_THAT(audit.out, Catch::Contains("REFUSED  victor (viewer)  add-intent"));
  CHECK_THAT(
      audit.out,
      Catch::Contains("REFUSED  alice (operator)  add-intent  intent: no POP named 'nowhere'"));
  CHECK_THAT(audit.out, Catch::Contains("withdraw p1 (break-glass): whole-site evacuation"));
  CHECK_THAT(audit.out,
             Catch::Contains(
                 "remove-intent  intent 2: removes withdraw p2: router swap; because: swap done"));
}

TEST_CASE("ack-freeze with nothing frozen is refused by the governor and kept nowhere",
          "[control][intents]") {
  ControlLab lab;
  StartGslb(lab);
  const RunResult ack = lab.Ctl({"ack-freeze", "--reason", "paged"});
  INFO(ack.out << ack.err);
  CHECK(ack.exit_code == 4);
  CHECK_THAT(ack.err, Catch::Contains("nothing frozen"));
  CHECK_THAT(ack.out, Catch::Contains("not frozen"));
  CHECK(IntentIds(lab).empty());
}

TEST_CASE("the plan drives BGP: drain adds GRACEFUL_SHUTDOWN, withdraw removes, restore returns",
          "[control][intents][bgp]") {
  ControlLab lab;
  StartGslb(lab);
  const Bird& bird = lab.bird();
  constexpr char kPrefix[] = "192.0.2.0/24";
  constexpr char kShutdown[] = "(65535,0)";
  // One block per route, by the protocol that brought it (e1, e2).
  auto routes = [&] {
    std::map<std::string, std::string> by_protocol;
    for (const BirdRoute& r : bird.Routes(kPrefix)) by_protocol[r.protocol] += r.text;
    return by_protocol;
  };
  INFO(bird.Cli("show protocols all"));
  // Both edges announce it, neither draining.
  REQUIRE(WaitUntil([&] { return routes().size() == 2; }, 20s));
  CHECK(routes()["e1"].find(kShutdown) == std::string::npos);
  CHECK(routes()["e2"].find(kShutdown) == std::string::npos);
  // The edges report their sessions; holdfastctl status lists each one.
  CHECK(WaitUntil(
      [&] {
        const std::string status = lab.Ctl({"status"}).out;
        return status.find("bgp 127.0.0.3 AS65000 established for") != std::string::npos &&
               status.find("prefixes sent 1, received 0") != std::string::npos;
      },
      10s));

  REQUIRE(lab.Ctl({"drain", "p2", "--reason", "maintenance"}).exit_code == 0);
  CHECK(WaitUntil([&] { return routes()["e2"].find(kShutdown) != std::string::npos; }, 10s));
  CHECK(routes().size() == 2);
  CHECK(routes()["e1"].find(kShutdown) == std::string::npos);

  REQUIRE(lab.Ctl({"withdraw", "p2", "--reason", "maintenance"}).exit_code == 0);
  CHECK(WaitUntil([&] { return routes().size() == 1 && routes().contains("e1"); }, 10s));
  CHECK(routes()["e1"].find(kShutdown) == std::string::npos);

  REQUIRE(lab.Ctl({"restore", "2", "--reason", "done"}).exit_code == 0);
  CHECK(WaitUntil([&] { return routes()["e2"].find(kShutdown) != std::string::npos; }, 10s));
  REQUIRE(lab.Ctl({"restore", "1", "--reason", "done"}).exit_code == 0);
  CHECK(WaitUntil(
      [&] {
        const auto r = routes();
        return r.size() == 2 && r.at("e2").find(kShutdown) == std::string::npos;
      },
      10s));
  CHECK(routes()["e1"].find(kShutdown) == std::string::npos);
}

// ---- staged rollout ---------------------------------------------------------------------------

// The rollout in `holdfastctl status --format json`, or null.
// Whether an edge's log shows it was sent or applied config version `version` (a field
// "version=N" ending there: config hashes such as "version=2858cab4..." are something else).
bool SawVersion(const std::string& log, int version) {
  return std::regex_search(log,
                           std::regex("(^|\\s)version=" + std::to_string(version) + "(\\s|$)"));
}

nlohmann::json Rollout(const ControlLab& lab) {
  const nlohmann::json s = lab.Status();
  if (s.is_null() || !s.contains("rollout")) return nullptr;
  return s["rollout"];
}

// Both edges on version 1 of the rollout config (the first version goes to everyone at once),
// each having reported, so the next rollout has a health baseline.
void StartRollout(ControlLab& lab, const std::string& extra_listeners = "") {
  const RunResult apply =
      lab.Ctl({"apply", lab.WriteRolloutConfig(lab.backend_port("web1"), extra_listeners),
               "--reason", "first"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 1));
  REQUIRE(lab.WaitAcked("n2", 1));
  REQUIRE(WaitUntil(
      [&] {
        const nlohmann::json a = lab.Node("n1");
        const nlohmann::json b = lab.Node("n2");
        return !a.is_null() && !b.is_null() && a.contains("report") && b.contains("report") &&
               a.value("pop", "") == "p1" && b.value("pop", "") == "p2";
      },
      20s));
  CHECK(lab.Get("127.0.0.1") == "web1 /\n");
  CHECK(lab.Get("127.0.0.2") == "web1 /\n");
}

TEST_CASE("a change reaches the canary POP first and the next wave only after its bake",
          "[control][rollout]") {
  ControlLab lab(300);
  lab.StartEdge("n1");
  lab.StartEdge("n2");
  StartRollout(lab);
  CHECK(Rollout(lab).is_null());  // the first version went to everyone: nothing was staged

  const RunResult apply =
      lab.Ctl({"apply", lab.WriteRolloutConfig(lab.backend_port("web2")), "--reason", "web2"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 2));
  // The canary serves version 2; p2 is still on version 1 while p1 bakes.
  CHECK(lab.Get("127.0.0.1") == "web2 /\n");
  CHECK(lab.Get("127.0.0.2") == "web1 /\n");
  {
    const nlohmann::json status = lab.Status();
    INFO(status.dump());
    CHECK(lab.Node("n2").value("acked_version", "") == "1");
    const nlohmann::json r = status["rollout"];
    CHECK(r.value("state", "") == "RUNNING");
    CHECK(r.value("target_version", "") == "2");
    CHECK(r.value("previous_version", "") == "1");
    REQUIRE(r["waves"].size() == 2);
    CHECK(r["waves"][0].value("name", "") == "canary");
    CHECK(r["waves"][0]["pops"] == nlohmann::json::array({"p1"}));
    CHECK(r["waves"][1].value("state", "") == "pending");
  }
  // One rollout at a time.
  const RunResult second =
      lab.Ctl({"apply", lab.WriteRolloutConfig(lab.backend_port("web1")), "--reason", "again"});
  CHECK(second.exit_code == 1);
  CHECK_THAT(second.err, Catch::Contains("still rolling out"));

  // After the bake, p2 gets it, and the rollout completes.
  REQUIRE(lab.WaitAcked("n2", 2));
  CHECK(lab.Get("127.0.0.2") == "web2 /\n");
  REQUIRE(WaitUntil([&] { return Rollout(lab).value("state", "") == "COMPLETED"; }, 20s));
  const nlohmann::json r = Rollout(lab);
  CHECK(r["waves"][0].value("state", "") == "done");
  CHECK(r["waves"][1].value("state", "") == "done");
  const RunResult status = lab.Ctl({"status"});
  INFO(status.out);
  CHECK_THAT(status.out, Catch::Contains("last rollout: version 2 (previous 1)"));
  CHECK_THAT(status.out, Catch::Contains("completed at"));
  CHECK_THAT(status.out, Catch::Contains("wave canary [p1]: done"));
  const std::string log = lab.ControlOutput();
  CHECK_THAT(log, Catch::Contains("event=control.rollout_started target=2 previous=1"));
  CHECK_THAT(log,
             Catch::Contains("event=control.rollout_wave_started target=2 wave=rest pops=p1,p2"));
  CHECK_THAT(log, Catch::Contains("event=control.rollout_completed target=2"));
}

TEST_CASE("a NACK from the canary rolls the change back before the next wave gets it",
          "[control][rollout]") {
  ControlLab lab(300);
  // n1 (the canary) has only the certificate of version 1; n2 has both.
  lab.MakeFileCerts("files-n1", {"www"});
  lab.MakeFileCerts("files-n2", {"www", "api"});
  const uint16_t https = FreePort();
  auto tls = [&](const std::string& cert) { return HttpsListener(https, cert); };
  lab.StartEdge("n1", (lab.dir() / "files-n1").string());
  lab.StartEdge("n2", (lab.dir() / "files-n2").string());
  StartRollout(lab, tls("www"));

  const RunResult apply =
      lab.Ctl({"apply", lab.WriteRolloutConfig(lab.backend_port("web2"), tls("api")), "--reason",
               "new cert"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  // n1 refuses version 2: version 3, with version 1's content, goes to everyone.
  REQUIRE(WaitUntil([&] { return Rollout(lab).value("state", "") == "ROLLED_BACK"; }, 20s));
  REQUIRE(lab.WaitAcked("n1", 3));
  REQUIRE(lab.WaitAcked("n2", 3));
  CHECK(lab.Get("127.0.0.1") == "web1 /\n");
  CHECK(lab.Get("127.0.0.2") == "web1 /\n");
  const nlohmann::json r = Rollout(lab);
  INFO(r.dump());
  CHECK(r.value("rollback_version", "") == "3");
  CHECK_THAT(r.value("outcome", ""), Catch::Contains("node n1 (POP p1) refused version 2"));
  CHECK_THAT(r.value("outcome", ""), Catch::Contains("HF3001"));
  CHECK(r["waves"][1].value("state", "") == "pending");

  const RunResult history = lab.Ctl({"history"});
  INFO(history.out);
  CHECK_THAT(history.out, Catch::Contains("holdfast-control"));
  CHECK_THAT(history.out, Catch::Contains("rollback to 1: node n1 (POP p1) refused version 2"));
  const RunResult audit = lab.Ctl({"audit"});
  INFO(audit.out);
  CHECK_THAT(audit.out, Catch::Contains("holdfast-control (system)  rollback  version 3 restores "
                                        "version 1: node n1 (POP p1) refused version 2"));
  // n2 never saw version 2: it went from 1 straight to 3.
  const std::string n2 = lab.edge("n2").Output();
  INFO(n2);
  CHECK(n2.find("event=edge.snapshot_applied version=3") != std::string::npos);
  CHECK(SawVersion(n2, 3));
  CHECK_FALSE(SawVersion(n2, 2));
  CHECK_THAT(lab.ControlOutput(), Catch::Contains("event=control.rollout_rolled_back target=2 "
                                                  "version=3"));
}

TEST_CASE("a canary whose health regresses is rolled back before the next wave gets the change",
          "[control][rollout]") {
  ControlLab lab(300);
  lab.StartEdge("n1");
  lab.StartEdge("n2");
  const std::string check = "{protocol: tcp, interval: 500ms, timeout: 200ms, rise: 1, fall: 1}";
  REQUIRE(lab.Ctl({"apply", lab.WriteRolloutConfig(lab.backend_port("web1"), "", "60s", check),
                   "--reason", "first"})
              .exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 1));
  REQUIRE(lab.WaitAcked("n2", 1));
  // The baseline: both POPs see their one endpoint healthy.
  auto healthy = [&](const std::string& node) {
    const nlohmann::json n = lab.Node(node);
    return !n.is_null() && n.contains("report") && n["report"].contains("clusters") &&
           n["report"]["clusters"][0].value("healthy_endpoints", 0) == 1;
  };
  REQUIRE(WaitUntil([&] { return healthy("n1") && healthy("n2"); }, 20s));

  // Version 2 sends the cluster to a port no one listens on: p1's health drops after its ACK.
  const RunResult apply = lab.Ctl(
      {"apply", lab.WriteRolloutConfig(FreePort(), "", "60s", check), "--reason", "dead port"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  REQUIRE(WaitUntil([&] { return Rollout(lab).value("state", "") == "ROLLED_BACK"; }, 45s));
  const nlohmann::json r = Rollout(lab);
  INFO(r.dump());
  CHECK_THAT(r.value("outcome", ""),
             Catch::Contains("POP p1 regressed: healthy endpoint fraction 1.00 -> 0.00"));
  CHECK(r["waves"][1].value("state", "") == "pending");
  REQUIRE(lab.WaitAcked("n1", 3));
  REQUIRE(lab.WaitAcked("n2", 3));
  CHECK(lab.Get("127.0.0.1") == "web1 /\n");
  const std::string n2 = lab.edge("n2").Output();
  INFO(n2);
  CHECK_FALSE(SawVersion(n2, 2));
  CHECK_THAT(lab.Ctl({"history"}).out, Catch::Contains("rollback to 1: POP p1 regressed"));
}

TEST_CASE("a rollout under way survives a control-plane restart and completes after it",
          "[control][rollout]") {
  ControlLab lab(300);
  lab.StartEdge("n1");
  lab.StartEdge("n2");
  StartRollout(lab);
  REQUIRE(lab.Ctl({"apply", lab.WriteRolloutConfig(lab.backend_port("web2"), "", "4s"), "--reason",
                   "web2"})
              .exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 2));
  lab.KillControl();
  lab.StartControl();
  // The record says where it was: p2 has not been reached, and is not sent version 2 yet.
  const nlohmann::json r = Rollout(lab);
  INFO(r.dump());
  CHECK(r.value("state", "") == "RUNNING");
  CHECK(r.value("current_wave", 0) == 0);
  CHECK_THAT(lab.ControlOutput(), Catch::Contains("event=control.rollout_resumed target=2"));
  // The edges reconnect; the canary bakes again, then p2 gets it.
  REQUIRE(lab.WaitAcked("n2", 2));
  CHECK(lab.Get("127.0.0.2") == "web2 /\n");
  CHECK(WaitUntil([&] { return Rollout(lab).value("state", "") == "COMPLETED"; }, 20s));
}

TEST_CASE("rollback and apply --all-at-once skip the waves and reach every edge at once",
          "[control][rollout]") {
  ControlLab lab(300);
  lab.StartEdge("n1");
  lab.StartEdge("n2");
  StartRollout(lab);
  REQUIRE(lab.Ctl({"apply", lab.WriteRolloutConfig(lab.backend_port("web2"), "", "60s"), "--reason",
                   "web2"})
              .exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 2));
  // The operator's rollback is an emergency: everyone at once, the rollout ended.
  const RunResult rollback = lab.Ctl({"rollback", "--reason", "web2 looks wrong"});
  INFO(rollback.out << rollback.err);
  REQUIRE(rollback.exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 3));
  REQUIRE(lab.WaitAcked("n2", 3));
  nlohmann::json r = Rollout(lab);
  CHECK(r.value("state", "") == "ROLLED_BACK");
  CHECK_THAT(r.value("outcome", ""), Catch::Contains("rolled back by alice"));
  INFO(lab.edge("n2").Output());
  CHECK_FALSE(SawVersion(lab.edge("n2").Output(), 2));

  const RunResult apply =
      lab.Ctl({"apply", lab.WriteRolloutConfig(lab.backend_port("web2"), "", "60s"), "--reason",
               "web2 after all", "--all-at-once"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK_THAT(apply.out, Catch::Contains("pushed to every edge at once"));
  REQUIRE(lab.WaitAcked("n1", 4));
  REQUIRE(lab.WaitAcked("n2", 4));
  CHECK(lab.Get("127.0.0.2") == "web2 /\n");
  CHECK_THAT(lab.Ctl({"audit"}).out,
             Catch::Contains("version 4 pushed to every edge at once, skipping the rollout waves"));
}

}  // namespace

// ---- edge streams: one certificate speaks for one node, on the control plane's clock ---------

// An EdgeSync stream the test opens itself with an edge certificate from the lab's CA: what
// anyone holding that certificate (or an edge whose clock is wrong) can send, message by message.
class RawEdgeStream {
 public:
  // As `cert` (n1, n2, ... of the lab's pki); the stream gives up after `deadline`.
  RawEdgeStream(const ControlLab& lab, const std::string& cert,
                std::chrono::seconds deadline = 30s) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Slurp(lab.pki("ca.pem"));
    options.pem_cert_chain = Slurp(lab.pki(cert + ".pem"));
    options.pem_private_key = Slurp(lab.pki(cert + ".key"));
    stub_ = holdfast::v1::EdgeSync::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(lab.control_port()), grpc::SslCredentials(options)));
    context_.set_deadline(std::chrono::system_clock::now() + deadline);
    stream_ = stub_->Sync(&context_);
  }

  bool Hello(const std::string& node, const std::string& pop, uint64_t version) {
    holdfast::v1::EdgeMessage m;
    m.mutable_hello()->set_node(node);
    m.mutable_hello()->set_pop(pop);
    m.mutable_hello()->set_version(version);
    return stream_->Write(m);
  }
  // A report in the name of `node` of `pop`, dated `offset` from now on this machine's clock.
  bool Report(const std::string& node, const std::string& pop, std::chrono::seconds offset,
              bool listeners_up) {
    holdfast::v1::EdgeMessage m;
    holdfast::v1::HealthReport& r = *m.mutable_report();
    r.set_node(node);
    r.set_pop(pop);
    *r.mutable_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            (std::chrono::system_clock::now() + offset).time_since_epoch())
            .count());
    r.set_listeners_up(listeners_up);
    // Its router hears it: the session a real edge of p1 would have.
    holdfast::v1::BgpSession* session = r.add_bgp_sessions();
    session->set_peer("127.0.0.3");
    session->set_asn(65000);
    session->set_state("established");
    holdfast::v1::ClusterHealth* c = r.add_clusters();
    c->set_cluster("web");
    c->set_healthy_endpoints(listeners_up ? 1 : 0);
    c->set_total_endpoints(1);
    return stream_->Write(m);
  }
  // Reads until the control plane ends the stream, and says how it ended.
  grpc::Status Ended() {
    holdfast::v1::ControlMessage in;
    while (stream_->Read(&in)) {
    }
    return stream_->Finish();
  }
  // Ends it from this side, as an edge that goes away cleanly.
  grpc::Status Close() {
    stream_->WritesDone();
    return Ended();
  }

 private:
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

  std::unique_ptr<holdfast::v1::EdgeSync::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<holdfast::v1::EdgeMessage, holdfast::v1::ControlMessage>>
      stream_;
};

// The GSLB config (POPs p1 and p2, stale after 3 s, hysteresis of one report), with a second
// node n3 (127.0.0.3, no edge process: the test speaks for it) in p1, and a withdrawal rate
// that never holds a withdrawal back: the withdrawals of the first plans, before the nodes
// report, must not hide what these tests look for.
std::string WriteTwoNodeGslbConfig(ControlLab& lab) {
  const std::string path = lab.WriteGslbConfig();
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string yaml = buffer.str();
  const std::string n1 = "nodes: [{name: n1, addresses: [127.0.0.1]}]";
  const size_t at = yaml.find(n1);
  REQUIRE(at != std::string::npos);
  yaml.replace(at, n1.size(),
               "nodes: [{name: n1, addresses: [127.0.0.1]}, {name: n3, addresses: [127.0.0.3]}]");
  yaml += "  withdrawal_rate: {max_withdrawals: 100}\n";
  std::ofstream(path) << yaml;
  return path;
}

// When the plan in status was made, on this machine's clock; the epoch when there is none.
std::chrono::system_clock::time_point PlanAt(const nlohmann::json& status) {
  google::protobuf::Timestamp at;
  if (status.is_null() || !status.contains("plan") ||
      !google::protobuf::util::TimeUtil::FromString(status["plan"].value("at", ""), &at)) {
    return {};
  }
  return std::chrono::system_clock::time_point(
      std::chrono::milliseconds(google::protobuf::util::TimeUtil::TimestampToMilliseconds(at)));
}

// Audit lines (holdfastctl audit) that contain `what`.
int AuditLines(const ControlLab& lab, const std::string& what) {
  std::istringstream in(lab.Ctl({"audit", "--limit", "200"}).out);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(what) != std::string::npos;
  return n;
}

TEST_CASE(
    "an edge certificate speaks only for its own node: forged reports are refused and "
    "change nothing in the plan",
    "[control][security]") {
  ControlLab lab(200);
  lab.StartEdge("n1");
  lab.StartEdge("n2");
  const RunResult apply = lab.Ctl({"apply", WriteTwoNodeGslbConfig(lab), "--reason", "gslb"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 1));
  REQUIRE(lab.WaitAcked("n2", 1));
  REQUIRE(WaitPlan(lab, "ANNOUNCED", "ANNOUNCED"));
  // The attacker holds n3's certificate (an edge of p1) and tries to take p2 out, with reports
  // dated an hour ahead so they would stay newest.
  const RunResult cert = Run({kSourceDir + "/deploy/certs/make-test-certs", "--ou", "edge",
                              (lab.dir() / "pki").string(), "n3", "n3"},
                             lab.dir());
  REQUIRE(cert.exit_code == 0);
  const RunResult cert9 = Run({kSourceDir + "/deploy/certs/make-test-certs", "--ou", "edge",
                               (lab.dir() / "pki").string(), "n9", "n9"},
                              lab.dir());
  REQUIRE(cert9.exit_code == 0);

  {
    // A report in n2's name (POP p2): refused, the stream ended.
    RawEdgeStream forger(lab, "n3");
    REQUIRE(forger.Hello("n3", "p1", 1));
    REQUIRE(forger.Report("n2", "p2", std::chrono::hours(1), false));
    const grpc::Status ended = forger.Ended();
    CHECK(ended.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK_THAT(ended.error_message(), Catch::Contains("naming node n2"));
  }
  {
    // Its own name, another POP.
    RawEdgeStream forger(lab, "n3");
    REQUIRE(forger.Hello("n3", "p1", 1));
    REQUIRE(forger.Report("n3", "p2", std::chrono::hours(1), false));
    const grpc::Status ended = forger.Ended();
    CHECK(ended.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK_THAT(ended.error_message(), Catch::Contains("is in POP p1"));
  }
  {
    // A hello that puts n3 in p2 while serving the version in force.
    RawEdgeStream forger(lab, "n3");
    REQUIRE(forger.Hello("n3", "p2", 1));
    const grpc::Status ended = forger.Ended();
    CHECK(ended.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK_THAT(ended.error_message(), Catch::Contains("is in POP p1"));
  }
  {
    // A certificate of a node the config does not have.
    RawEdgeStream stranger(lab, "n9");
    REQUIRE(stranger.Hello("n9", "p2", 0));
    const grpc::Status ended = stranger.Ended();
    CHECK(ended.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK_THAT(ended.error_message(), Catch::Contains("not in config version 1"));
  }
  {
    // And a hello in n2's name with n3's certificate, as before.
    RawEdgeStream forger(lab, "n3");
    REQUIRE(forger.Hello("n2", "p2", 1));
    CHECK(forger.Ended().error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }

  // Nothing changed: for plans made well after the last attempt (every 200 ms), p2 stays
  // announced and n2's report is n2's own.
  const auto after = std::chrono::system_clock::now() + 2s;
  bool p2_announced = true;
  const bool planned = WaitUntil(
      [&] {
        const nlohmann::json s = lab.Status();
        p2_announced = p2_announced && PlanState(s, "p2") == "ANNOUNCED";
        return PlanAt(s) > after;
      },
      20s);
  INFO(lab.Ctl({"status"}).out);
  CHECK(planned);
  CHECK(p2_announced);
  const nlohmann::json n2 = lab.Node("n2");
  CHECK(n2["report"].value("listeners_up", false));
  CHECK(n2["report"].value("pop", "") == "p2");
  const nlohmann::json status = lab.Status();
  CHECK(status["edge_streams"].value("reports_refused", "0") == "2");
  CHECK(status["edge_streams"].value("hellos_refused", "0") == "3");
  // Each refusal is audited under the certificate that tried, and logged on one line.
  CHECK(AuditLines(lab, "REFUSED  n3 (edge)  report") == 2);
  CHECK(AuditLines(lab, "REFUSED  n3 (edge)  sync") == 2);
  CHECK(AuditLines(lab, "REFUSED  n9 (edge)  sync") == 1);
  CHECK_THAT(lab.ControlOutput(),
             Catch::Contains("event=control.report_refused node=n3 claimed=\"n2\""));
  CHECK_THAT(lab.Ctl({"status"}).out, Catch::Contains("2 reports refused"));
}

TEST_CASE(
    "a second stream for a live node supersedes the first, whose edge reconnects and is "
    "served",
    "[control][security]") {
  ControlLab lab;
  lab.StartEdge("n1");
  lab.StartEdge("n2");
  REQUIRE(lab.Ctl({"apply", lab.WriteConfig({"web1"}), "--reason", "first"}).exit_code == 0);
  REQUIRE(lab.WaitAcked("n1", 1));
  REQUIRE(lab.WaitAcked("n2", 1));

  // A second stream with n1's certificate takes the node over; the real n1, cut off with
  // ABORTED, reconnects at once and takes it back, which ends this one the same way. Before,
  // the second stream silently left the real n1 deaf for good; this one would then run to its
  // deadline.
  RawEdgeStream second(lab, "n1", 20s);
  REQUIRE(second.Hello("n1", "test", 1));
  const grpc::Status ended = second.Ended();
  INFO(lab.ControlOutput());
  CHECK(ended.error_code() == grpc::StatusCode::ABORTED);
  CHECK_THAT(ended.error_message(), Catch::Contains("superseded by a newer stream"));
  CHECK_THAT(lab.edge("n1").Output(),
             Catch::Contains("event=control.stream_ended address=127.0.0.1:" +
                             std::to_string(lab.control_port()) + " code=10"));

  // The real n1 is connected and served: the next version reaches it and its ACK counts.
  REQUIRE(lab.Ctl({"apply", lab.WriteConfig({"web2"}), "--reason", "after"}).exit_code == 0);
  CHECK(lab.WaitAcked("n1", 2));
  CHECK(lab.WaitAcked("n2", 2));
  CHECK(lab.Node("n1").value("connected", false));
  CHECK(lab.Get("127.0.0.1") == "web2 /\n");
  const nlohmann::json status = lab.Status();
  CHECK(std::stoi(status["edge_streams"].value("streams_superseded", "0")) >= 2);
  CHECK(AuditLines(lab, "superseded by a newer stream") >= 2);
}

TEST_CASE("an edge with a skewed clock is judged by when its reports arrive",
          "[control][security]") {
  ControlLab lab(200);
  const RunResult cert = Run({kSourceDir + "/deploy/certs/make-test-certs", "--ou", "edge",
                              (lab.dir() / "pki").string(), "n3", "n3"},
                             lab.dir());
  REQUIRE(cert.exit_code == 0);
  lab.StartEdge("n2");
  REQUIRE(lab.Ctl({"apply", WriteTwoNodeGslbConfig(lab), "--reason", "gslb"}).exit_code == 0);
  REQUIRE(lab.WaitAcked("n2", 1));

  // n3 (p1's only reporting node) runs an hour behind and reports as it should: its reports
  // are fresh when they arrive, so p1 is announced, and status flags the skew. Judged by its
  // own dates, every report would have been stale on arrival.
  auto stream = std::make_unique<RawEdgeStream>(lab, "n3", 60s);
  REQUIRE(stream->Hello("n3", "p1", 1));
  const auto since = std::chrono::system_clock::now();
  const bool fresh = WaitUntil(
      [&] {
        stream->Report("n3", "p1", -std::chrono::hours(1), true);
        const nlohmann::json s = lab.Status();
        return PlanState(s, "p1") == "ANNOUNCED" && PlanAt(s) > since + 4s;
      },
      20s);
  const RunResult text = lab.Ctl({"status"});
  INFO(text.out);
  CHECK(fresh);
  const nlohmann::json n3 = lab.Node("n3");
  CHECK(n3.value("clock_skew_warning", false));
  CHECK_THAT(n3.value("clock_skew", ""), Catch::StartsWith("-3"));
  CHECK_THAT(text.out, Catch::Contains("WARNING: clock skew -3600"));
  CHECK_THAT(lab.ControlOutput(), Catch::Contains("event=control.clock_skew node=n3 skew=-"));

  // Then it dates one report an hour ahead and falls silent: stale 3 s after that report
  // arrived, and withdrawn, like any silent node (before, it stayed fresh for the hour).
  REQUIRE(stream->Report("n3", "p1", std::chrono::hours(1), true));
  CHECK(stream->Close().ok());
  stream.reset();
  INFO(lab.Ctl({"status"}).out);
  CHECK(WaitPlan(lab, "WITHDRAWN", "ANNOUNCED", 10s));
  const nlohmann::json s = lab.Status();
  for (const auto& d : s["plan"]["prefixes"][0]["pops"]) {
    if (d.value("pop", "") == "p1") {
      CHECK_THAT(d.value("reason", ""), Catch::Contains("no report for more than 3s"));
    }
  }
}
