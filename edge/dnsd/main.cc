// holdfast-dns: the authoritative DNS daemon for nodes that serve only DNS (issue 5). Loads and
// validates the config with the same code as `holdfastctl validate`, compiles the zones and
// service names, and answers on the node's dns listeners, UDP and TCP, with one event loop per
// thread (SO_REUSEPORT: every thread binds the same port and the kernel spreads the queries).
// SIGHUP reloads: the new config is loaded, validated and compiled completely before one
// snapshot swap switches every thread over; an invalid one is refused and the old answers stay.
// SIGTERM stops and exits 0.
//
// A DNS-only node holds no certificates: the validator does not read certificate files here
// (ValidateOptions::inspect_tls unset, as `holdfastctl validate --no-files`), and only the dns
// listeners, zones and service names are compiled (dns_node.h), not the listeners, routes,
// clusters and BGP sessions that holdfast-edge runs.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <asio/io_context.hpp>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "common/cat.h"
#include "common/log/log_flags.h"
#include "common/snapshot.h"
#include "dns/answer/engine.h"
#include "dns/server/metrics.h"
#include "dns/server/server.h"
#include "edge/daemon/startup.h"
#include "edge/dnsd/dns_node.h"
#include "policy/finding.h"
#include "policy/validate/validator.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

struct Flags {
  std::string config;
  std::string node;
  int threads = 0;
  holdfast::LogFlags log;
  bool no_rrl = false;
};

// The one load path, at start and on SIGHUP: the checks of `holdfastctl validate --no-files`,
// each finding logged, then the node's dns listeners and answers compiled. An error says why
// the config cannot be served.
absl::StatusOr<std::shared_ptr<const DnsNodeConfig>> Load(const Flags& flags) {
  policy::ValidateOptions validate;
  validate.now = absl::Now();
  // inspect_tls stays unset: certificates are holdfast-edge's, not on a DNS-only node.
  const policy::LoadedConfig loaded = policy::LoadAndValidate({flags.config}, {}, validate);
  LogFindings(loaded.findings);
  if (policy::HasErrors(loaded.findings)) {
    return absl::InvalidArgumentError(policy::SummarizeErrors(loaded.findings));
  }
  return CompileDnsNode(loaded.config, flags.node);
}

std::string Binds(const DnsNodeConfig& config) {
  std::string out;
  for (const DnsListener& l : config.listeners) {
    for (const asio::ip::tcp::endpoint& b : l.binds) {
      if (!out.empty()) out += ",";
      out += Cat(l.name, "@", b.address().to_string(), ":", b.port());
    }
  }
  return out;
}

// One event loop on its own thread, with a server per bind of every dns listener.
struct Loop {
  asio::io_context io{1};
  std::vector<std::unique_ptr<dns::Server>> servers;
  std::thread thread;
};

int Run(const Flags& flags) {
  absl::StatusOr<std::shared_ptr<const DnsNodeConfig>> first = Load(flags);
  if (!first.ok()) {
    spdlog::error("event=dns.config_rejected file={} reason=\"{}\"", flags.config,
                  std::string(first.status().message()));
    return 1;
  }
  std::shared_ptr<const DnsNodeConfig> config = *std::move(first);

  asio::io_context main_loop(1);
  // Before any server runs: a signal that came later would otherwise end the process. Handled
  // once the main loop runs, below, when `reload` is set.
  std::function<void()> reload;
  bool stop = false;
  const SignalLoop signals(
      main_loop, [&reload] { reload(); },
      [&stop](int signo) {
        spdlog::info("event=dns.stopping signal={}", signo == SIGTERM ? "SIGTERM" : "SIGINT");
        stop = true;
      });

  Snapshot<dns::DnsData> data(config->dns);
  // One set of counters per listener, shared by the threads (relaxed atomics).
  std::vector<std::unique_ptr<dns::ServerMetrics>> metrics;
  for (size_t li = 0; li < config->listeners.size(); ++li) {
    metrics.push_back(std::make_unique<dns::ServerMetrics>());
  }

  const int thread_count = ThreadCount(flags.threads);
  std::vector<std::unique_ptr<Loop>> loops;
  // Stops every loop and joins its thread, also on an early return.
  struct StopLoops {
    std::vector<std::unique_ptr<Loop>>& loops;
    ~StopLoops() {
      for (auto& loop : loops) {
        for (auto& server : loop->servers) server->Stop();
        loop->io.stop();
        if (loop->thread.joinable()) loop->thread.join();
      }
    }
  } stop_loops{loops};
  for (int t = 0; t < thread_count; ++t) {
    auto loop = std::make_unique<Loop>();
    for (size_t li = 0; li < config->listeners.size(); ++li) {
      const DnsListener& l = config->listeners[li];
      for (const asio::ip::tcp::endpoint& bind : l.binds) {
        dns::ServerOptions options;
        options.address = bind.address();
        options.port = bind.port();
        options.random_seed = static_cast<uint64_t>(t) * 0x9e3779b97f4a7c15ULL + li + 1;
        // Benchmarks from one client address, or a node behind resolvers already limited.
        if (flags.no_rrl) options.rate_limit.responses_per_second = 0;
        auto server = dns::Server::Create(loop->io, options, data, *metrics[li]);
        if (!server.ok()) {
          spdlog::error("event=dns.listen_failed listener={} reason=\"{}\"", l.name,
                        std::string(server.status().message()));
          return 1;
        }
        loop->servers.push_back(*std::move(server));
      }
    }
    loops.push_back(std::move(loop));
  }
  for (auto& loop : loops) {
    for (auto& server : loop->servers) server->Start();
    loop->thread = std::thread([io = &loop->io] { io->run(); });
  }
  spdlog::info(
      "event=dns.started node={} pop={} version={} threads={} binds={} rrl={} zones={} "
      "service_names={} pid={}",
      flags.node, config->pop, config->version, thread_count, Binds(*config),
      flags.no_rrl ? "off" : "on", config->dns->zones->zones().size(),
      config->dns->services->services().size(), getpid());

  // SIGHUP: load, validate and compile completely before anything changes; the swap applies to
  // every thread's next query. Any error leaves the running answers in place.
  reload = [&] {
    absl::StatusOr<std::shared_ptr<const DnsNodeConfig>> next = Load(flags);
    absl::Status s = next.status();
    if (s.ok()) {
      if (const std::string why =
              ListenerChange("dns listeners", config->listeners, (*next)->listeners);
          !why.empty()) {
        s = absl::FailedPreconditionError(Cat(why, ": restart to apply it"));
      }
    }
    if (!s.ok()) {
      spdlog::error("event=dns.reload_rejected reason=\"{}\" version={}", std::string(s.message()),
                    config->version);
      return;
    }
    if ((*next)->version == config->version) {
      spdlog::info("event=dns.reload_unchanged version={}", config->version);
      return;
    }
    data.Set((*next)->dns);
    spdlog::info("event=dns.reloaded version={} previous_version={} zones={} service_names={}",
                 (*next)->version, config->version, (*next)->dns->zones->zones().size(),
                 (*next)->dns->services->services().size());
    config = *std::move(next);
  };

  while (!stop) main_loop.run_one();

  for (auto& loop : loops) {
    for (auto& server : loop->servers) server->Stop();
  }
  uint64_t udp = 0;
  uint64_t tcp = 0;
  for (const auto& m : metrics) {
    udp += m->udp_queries.load(std::memory_order_relaxed);
    tcp += m->tcp_queries.load(std::memory_order_relaxed);
  }
  spdlog::info("event=dns.stopped udp_queries={} tcp_queries={}", udp, tcp);
  return 0;
}

}  // namespace
}  // namespace holdfast::edge

int main(int argc, char** argv) {
  holdfast::edge::Flags flags;
  CLI::App app{
      "holdfast-dns: the authoritative DNS server for nodes that serve only DNS. Answers the "
      "config's zones and service names on the node's listeners of protocol dns (UDP and TCP; a "
      "listener without an address binds each of the node's addresses), one event loop per "
      "thread. The config is checked as by `holdfastctl validate --no-files`: certificates are "
      "not read, since a DNS-only node holds none; listeners of other protocols, routes, "
      "clusters and BGP are validated but not run (holdfast-edge runs them). SIGHUP reloads (an "
      "invalid config is refused, logged, and the running one keeps answering); SIGTERM stops "
      "and exits 0."};
  app.add_option("--config", flags.config, "The config file (as for holdfastctl validate)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--node", flags.node, "This node's name in the config's pops[].nodes")->required();
  app.add_option("--threads", flags.threads, "Event loops (threads); 0 means one per core")
      ->default_val(0)
      ->check(CLI::Range(0, 256));
  flags.log.AddTo(app);
  app.add_flag("--no-rrl", flags.no_rrl,
               "Turn response rate limiting off (on by default: 200 responses/s per client "
               "prefix, every second limited one truncated); for benchmarks from one address");
  CLI11_PARSE(app, argc, argv);

  flags.log.Init();
  std::signal(SIGPIPE, SIG_IGN);
  return holdfast::edge::Run(flags);
}
