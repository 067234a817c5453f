// The control plane's push: one holdfast-control (a real process, SQLite store) and N edge
// streams in this process that speak the real EdgeSync protocol over loopback (hello, then an
// ACK for every snapshot, as holdfast-edge answers). For each N it applies a new config through
// the Operator API and times from the apply call to the last ACK sent; at the largest N it reads
// the control plane's RSS. Last line: "sync N edges: M ms to last ACK" for the largest N.
//
//   sync_bench --control PATH [--edges 100,1000] [--rounds 3]
//
// Plaintext (--insecure) on loopback: what is measured is the control plane's fan-out, not TLS.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "holdfast/v1/control.grpc.pb.h"
#include "tests/support/ports.h"

namespace {

using Clock = std::chrono::steady_clock;

// One simulated edge node: says hello, answers every snapshot with an ACK at once and notes
// when it did, for the version the bench waits for.
class Edge final
    : public grpc::ClientBidiReactor<holdfast::v1::EdgeMessage, holdfast::v1::ControlMessage> {
 public:
  Edge(holdfast::v1::EdgeSync::Stub& stub, int index) {
    stub.async()->Sync(&context_, this);
    hello_.mutable_hello()->set_pop("bench");
    hello_.mutable_hello()->set_node("sim-" + std::to_string(index));
    StartWrite(&hello_);
    StartRead(&in_);
    StartCall();
  }

  void OnWriteDone(bool) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!pending_.empty()) WriteNext();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (in_.has_snapshot()) {
      holdfast::v1::EdgeMessage ack;
      ack.mutable_ack()->set_version(in_.snapshot().version());
      ack.mutable_ack()->set_nonce(in_.snapshot().nonce());
      {
        std::lock_guard lock(mu_);
        pending_.push_back(std::move(ack));
        if (!writing_) WriteNext();
      }
      acked_version_.store(in_.snapshot().version());
      acked_at_.store(Clock::now().time_since_epoch().count());
    }
    StartRead(&in_);
  }

  void OnDone(const grpc::Status&) override {
    std::lock_guard lock(mu_);
    done_ = true;
    done_cv_.notify_all();
  }

  uint64_t acked_version() const { return acked_version_.load(); }
  Clock::time_point acked_at() const {
    return Clock::time_point(Clock::duration(acked_at_.load()));
  }

  void Close() {
    context_.TryCancel();
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return done_; });
  }

 private:
  void WriteNext() {
    current_ = std::move(pending_.front());
    pending_.erase(pending_.begin());
    writing_ = true;
    StartWrite(&current_);
  }

  grpc::ClientContext context_;
  holdfast::v1::EdgeMessage hello_;
  holdfast::v1::EdgeMessage current_;
  holdfast::v1::ControlMessage in_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  std::vector<holdfast::v1::EdgeMessage> pending_;
  bool writing_ = true;  // the hello
  bool done_ = false;
  std::atomic<uint64_t> acked_version_{0};
  std::atomic<Clock::rep> acked_at_{0};
};

holdfast::v1::ConfigBundle Config(int round, int nodes) {
  // A small, valid config; each round changes a port so that every apply is a new version. It
  // lists every simulated node: the control plane refuses a hello from a node it does not have.
  std::ostringstream yaml;
  yaml << "listeners:\n  - {name: http, port: " << 20000 + round << ", protocol: http}\n"
       << "routes:\n  - {name: all, cluster: web}\n"
       << "clusters:\n  - name: web\n    endpoints: [{address: 127.0.0.1, port: 8080}]\n"
       << "pops:\n  - name: bench\n    region: local\n    nodes:\n";
  for (int i = 0; i < nodes; ++i) {
    yaml << "      - {name: sim-" << i << ", addresses: [10." << (i >> 16) << "."
         << ((i >> 8) & 255) << "." << (i & 255) << "]}\n";
  }
  holdfast::v1::ConfigBundle bundle;
  auto* f = bundle.add_files();
  f->set_path("holdfast.yaml");
  f->set_content(yaml.str());
  return bundle;
}

long RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string control_path;
  std::vector<int> sizes = {100, 1000};
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--control" && i + 1 < argc) {
      control_path = argv[++i];
    } else if (a == "--edges" && i + 1 < argc) {
      sizes.clear();
      std::stringstream list(argv[++i]);
      for (std::string n; std::getline(list, n, ',');) sizes.push_back(std::stoi(n));
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::stoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: sync_bench --control PATH [--edges 100,1000] [--rounds 3]\n");
      return 2;
    }
  }
  if (control_path.empty() || sizes.empty() || rounds < 1) {
    std::fprintf(stderr, "usage: sync_bench --control PATH [--edges 100,1000] [--rounds 3]\n");
    return 2;
  }

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sync-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string address = "127.0.0.1:" + std::to_string(holdfast::testing::FreePort());
  const pid_t control = fork();
  if (control == 0) {
    const std::string store = "sqlite:" + (dir / "control.db").string();
    const std::string log = (dir / "control.log").string();
    std::freopen(log.c_str(), "w", stderr);
    execl(control_path.c_str(), control_path.c_str(), "--listen", address.c_str(), "--store",
          store.c_str(), "--insecure", "--log-level", "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  auto stop_control = [&] {
    kill(control, SIGTERM);
    waitpid(control, nullptr, 0);
    std::filesystem::remove_all(dir);
  };

  // Several channels, as edges would come from many hosts; streams spread over them.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<holdfast::v1::EdgeSync::Stub>> stubs;
  for (int i = 0; i < 8; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", i);  // distinct channels, not one shared subchannel
    channels.push_back(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
    stubs.push_back(holdfast::v1::EdgeSync::NewStub(channels.back()));
  }
  auto operators = holdfast::v1::Operator::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  if (!channels[0]->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::fprintf(stderr, "sync_bench: holdfast-control did not start (log: %s)\n",
                 (dir / "control.log").c_str());
    stop_control();
    return 1;
  }

  uint64_t version = 0;
  int round_no = 0;
  double last_ms = 0;
  for (const int n : sizes) {
    std::vector<std::unique_ptr<Edge>> edges;
    for (int i = 0; i < n; ++i)
      edges.push_back(std::make_unique<Edge>(*stubs[i % stubs.size()], i));
    // Every stream said hello and has the version in force, if any.
    const auto settle = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < settle && !std::all_of(edges.begin(), edges.end(), [&](const auto& e) {
             return e->acked_version() == version;
           })) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // hellos registered
    std::vector<double> times;
    for (int r = 0; r < rounds; ++r) {
      holdfast::v1::ChangeRequest request;
      *request.mutable_config() = Config(++round_no, *std::max_element(sizes.begin(), sizes.end()));
      request.set_reason("bench");
      request.set_base_version(version);
      holdfast::v1::ApplyResponse response;
      grpc::ClientContext context;
      const Clock::time_point start = Clock::now();
      const grpc::Status s = operators->Apply(&context, request, &response);
      if (!s.ok()) {
        std::fprintf(stderr, "sync_bench: apply failed: %s\n", s.error_message().c_str());
        stop_control();
        return 1;
      }
      version = response.version();
      const auto deadline = Clock::now() + std::chrono::seconds(60);
      while (Clock::now() < deadline &&
             !std::all_of(edges.begin(), edges.end(),
                          [&](const auto& e) { return e->acked_version() == version; })) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      Clock::time_point last = start;
      int missing = 0;
      for (const auto& e : edges) {
        if (e->acked_version() != version) ++missing;
        last = std::max(last, e->acked_at());
      }
      if (missing > 0) {
        std::fprintf(stderr, "sync_bench: %d of %d edges never acknowledged version %llu\n",
                     missing, n, static_cast<unsigned long long>(version));
        stop_control();
        return 1;
      }
      times.push_back(std::chrono::duration<double, std::milli>(last - start).count());
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    std::printf("sync %d edges: apply to last ACK median %.1f ms (min %.1f, max %.1f, %d rounds)\n",
                n, median, times.front(), times.back(), rounds);
    if (n == sizes.back()) {
      std::printf("holdfast-control RSS with %d streams: %.1f MiB\n", n, RssKiB(control) / 1024.0);
    }
    last_ms = median;
    for (auto& e : edges) e->Close();
  }
  stop_control();
  std::printf("sync %d edges: %.0f ms to last ACK\n", sizes.back(), last_ms);
  return 0;
}
