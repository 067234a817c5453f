// holdfast-edge: the per-node daemon. Loads and validates the config with the same code as
// `holdfastctl validate`, compiles what its node runs, and serves it on one event loop per
// worker until SIGTERM, which drains. The config comes from a file (--config), or from the
// control plane (--control): then every snapshot it sends is applied like a reload and
// answered ACK or NACK, and the last one applied is kept on disk to start from when the control
// plane cannot be reached (fail static).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "common/cat.h"
#include "common/file/read_file.h"
#include "common/log/log_flags.h"
#include "common/status_macros.h"
#include "common/tls/certificate_facts.h"
#include "edge/agent/control_client.h"
#include "edge/agent/report.h"
#include "edge/agent/snapshot_file.h"
#include "edge/bgp/announcer.h"
#include "edge/bgp/restart_marker.h"
#include "edge/config/edge_config.h"
#include "edge/discovery/resolver.h"
#include "edge/health/monitor.h"
#include "edge/server/admin.h"
#include "edge/server/worker.h"
#include "policy/bundle.h"
#include "policy/finding.h"
#include "policy/validate/validator.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

struct Flags {
  std::string config;
  std::string node;
  std::string admin;
  int workers = 0;
  double drain_seconds = 30;
  double bgp_drain_seconds = 10;
  uint32_t bgp_drain_prepend = 0;
  holdfast::LogFlags log;
  std::string dns_resolvers;
  std::string control;
  std::string control_ca;
  std::string control_cert;
  std::string control_key;
  bool control_insecure = false;
  std::string state_dir;
  std::string files_dir;
};

// Where relative file names of a control plane's config (certificates, keys) are looked up.
std::string FilesDir(const Flags& flags) {
  if (!flags.files_dir.empty()) return flags.files_dir;
  if (!flags.config.empty()) return std::filesystem::path(flags.config).parent_path().string();
  return flags.state_dir;
}

// Where the served config comes from: a file (with what it includes), or a snapshot from the
// control plane.
struct Source {
  std::string file;
  std::shared_ptr<const v1::ConfigSnapshot> snapshot;
};

void LogFindings(const std::vector<policy::Finding>& findings) {
  for (const policy::Finding& f : findings) {
    const auto level =
        f.severity == policy::Severity::kError ? spdlog::level::err : spdlog::level::warn;
    spdlog::log(level, "event=config.finding file={} line={} column={} code={} message=\"{}\"",
                f.where.file, f.where.line, f.where.column, std::string(policy::Info(f.code).id),
                f.message);
  }
}

// A config loaded, validated and compiled for this node, and the files it was read from.
struct Loaded {
  std::shared_ptr<const EdgeConfig> config;
  std::vector<std::string> files;
};

// The one load path, at start, on reload and for every snapshot: the same checks as
// `holdfastctl validate`, each finding logged. An error says why the config cannot be served.
absl::StatusOr<Loaded> Load(const Source& source, const Flags& flags) {
  policy::ValidateOptions validate;
  validate.now = absl::Now();
  validate.inspect_tls = tls::InspectCertificatePair;
  policy::LoadedConfig loaded;
  if (source.snapshot != nullptr) {
    HF_RETURN_IF_ERROR(policy::CheckBundle(source.snapshot->config()));
    loaded = policy::LoadBundle(source.snapshot->config(), validate, FilesDir(flags));
  } else {
    loaded = policy::LoadAndValidate({source.file}, {}, validate);
  }
  LogFindings(loaded.findings);
  if (policy::HasErrors(loaded.findings)) {
    return absl::InvalidArgumentError(policy::SummarizeErrors(loaded.findings));
  }
  auto compiled = CompileEdgeConfig(loaded.config, loaded.sources, flags.node);
  if (!compiled.ok()) return compiled.status();
  // A snapshot's files are not on disk: nothing to watch.
  return Loaded{*std::move(compiled),
                source.snapshot != nullptr ? std::vector<std::string>{} : loaded.sources.files()};
}

// What the edge serves for `config`: its health monitor (started) and its clusters' counters.
absl::StatusOr<std::shared_ptr<const Serving>> MakeServing(std::shared_ptr<const EdgeConfig> config,
                                                           asio::io_context& health_io,
                                                           SharedState& shared) {
  std::vector<MonitoredCluster> monitored;
  auto serving = std::make_shared<Serving>();
  for (const ClusterConfig& c : config->clusters) {
    MonitoredCluster m{c.name, {}, c.health_check, c.outlier};
    for (size_t i = 0; i < c.endpoints.size(); ++i) {
      m.endpoints.push_back({c.endpoints[i].key, c.addresses[i]});
    }
    monitored.push_back(std::move(m));
    serving->cluster_metrics.push_back(shared.metrics->Cluster(c.name));
  }
  auto monitor =
      HealthMonitor::Create(health_io, std::move(monitored), shared.health, {config->version});
  if (!monitor.ok()) return monitor.status();
  serving->monitor = *std::move(monitor);
  serving->monitor->Start();
  serving->config = std::move(config);
  return std::shared_ptr<const Serving>(std::move(serving));
}

// Reload keeps the sockets: a listener added, removed, moved or changed in protocol needs a
// restart. Empty when `next` listens exactly as `current` does; otherwise why not.
std::string ListenerChange(const EdgeConfig& current, const EdgeConfig& next) {
  if (current.listeners.size() != next.listeners.size()) {
    return Cat("the number of listeners changes (", current.listeners.size(), " -> ",
               next.listeners.size(), ")");
  }
  for (size_t i = 0; i < current.listeners.size(); ++i) {
    const ListenerConfig& a = current.listeners[i];
    const ListenerConfig& b = next.listeners[i];
    if (a.name != b.name || a.protocol != b.protocol || a.binds != b.binds) {
      return Cat("listener ", a.name, " changes its name, protocol or addresses");
    }
  }
  return {};
}

// Modification times of the config's files, to notice an edit.
std::vector<std::filesystem::file_time_type> Stamps(const std::vector<std::string>& files) {
  std::vector<std::filesystem::file_time_type> out;
  for (const std::string& f : files) {
    std::error_code ec;
    out.push_back(std::filesystem::last_write_time(f, ec));
  }
  return out;
}

// The credentials for --control: mTLS with the node's certificate, or plaintext.
std::shared_ptr<grpc::ChannelCredentials> ControlCredentials(const Flags& flags) {
  if (flags.control_insecure) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  for (auto [path, out] : {std::pair{&flags.control_ca, &options.pem_root_certs},
                           std::pair{&flags.control_cert, &options.pem_cert_chain},
                           std::pair{&flags.control_key, &options.pem_private_key}}) {
    absl::StatusOr<std::string> pem = ReadFile(*path);
    if (!pem.ok()) {
      spdlog::error("event=control.credentials_unreadable file={} reason=\"{}\"", *path,
                    std::string(pem.status().message()));
      return nullptr;
    }
    *out = *std::move(pem);
  }
  return grpc::SslCredentials(options);
}

int Run(const Flags& flags) {
  asio::io_context main_loop(1);
  SharedState shared;
  Source source;
  source.file = flags.config;

  // With a control plane: its snapshots are applied on the main loop (apply_snapshot, below),
  // while the client's thread waits for the outcome to answer ACK or NACK.
  std::function<absl::Status(std::shared_ptr<const v1::ConfigSnapshot>)> apply_snapshot;
  // The control plane's last announcement plan: what DNS answers and BGP announces follow it,
  // across config changes, until the next one (a plan from before an outage stays: serve
  // stale). Plans arrive on the main loop; one that comes before anything is served is kept
  // for when it is.
  std::optional<v1::Plan> plan;
  std::function<void(const v1::Plan&)> on_plan = [&plan](const v1::Plan& next) { plan = next; };
  std::atomic<bool> main_loop_done{false};
  ControlClientOptions control_options;
  // The speaker, for the reports the client's thread sends; set while it runs.
  std::atomic<const BgpAnnouncer*> bgp_for_reports{nullptr};
  ControlClient::Apply apply;
  std::unique_ptr<ControlClient> control;
  if (!flags.control.empty()) {
    absl::StatusOr<v1::ConfigSnapshot> persisted = ReadSnapshot(flags.state_dir);
    if (persisted.ok()) {
      source = Source{"", std::make_shared<const v1::ConfigSnapshot>(*std::move(persisted))};
      spdlog::info("event=edge.snapshot_loaded state_dir={} version={}", flags.state_dir,
                   source.snapshot->version());
    } else if (!absl::IsNotFound(persisted.status())) {
      spdlog::warn("event=edge.snapshot_unreadable state_dir={} reason=\"{}\"", flags.state_dir,
                   std::string(persisted.status().message()));
    }
    std::shared_ptr<grpc::ChannelCredentials> credentials = ControlCredentials(flags);
    if (credentials == nullptr) return 1;
    control_options = ControlClientOptions{flags.control, std::move(credentials), "", flags.node};
    apply = [&](const v1::ConfigSnapshot& received) -> absl::Status {
      auto snapshot = std::make_shared<const v1::ConfigSnapshot>(received);
      auto outcome = std::make_shared<std::promise<absl::Status>>();
      std::future<absl::Status> done = outcome->get_future();
      asio::post(main_loop, [&apply_snapshot, snapshot, outcome] {
        outcome->set_value(apply_snapshot(snapshot));
      });
      while (done.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
        if (main_loop_done.load()) return absl::UnavailableError("the edge is stopping");
      }
      return done.get();
    };
  }

  // Before anything is served, a snapshot only has to load.
  std::optional<Loaded> first;
  apply_snapshot = [&](std::shared_ptr<const v1::ConfigSnapshot> snapshot) -> absl::Status {
    Source next{"", snapshot};
    absl::StatusOr<Loaded> loaded = Load(next, flags);
    if (!loaded.ok()) return loaded.status();
    source = std::move(next);
    first = *std::move(loaded);
    return absl::OkStatus();
  };
  if (source.snapshot != nullptr || !source.file.empty()) {
    absl::StatusOr<Loaded> loaded = Load(source, flags);
    if (!loaded.ok()) {
      spdlog::error("event=edge.config_rejected source={} reason=\"{}\"",
                    source.snapshot != nullptr ? "snapshot" : source.file,
                    std::string(loaded.status().message()));
      if (flags.control.empty() || source.snapshot == nullptr) return 1;
      source = Source{};  // a snapshot that no longer loads: wait for the control plane's
    } else {
      first = *std::move(loaded);
    }
  }
  if (!flags.control.empty()) {
    if (first.has_value()) control_options.pop = first->config->pop;
    control = std::make_unique<ControlClient>(
        std::move(control_options), apply,
        [&shared, &bgp_for_reports] {
          const BgpAnnouncer* b = bgp_for_reports.load();
          return MakeReport(shared, absl::Now(),
                            b != nullptr ? b->Status() : std::vector<bgp::PeerStatus>{});
        },
        [&](const v1::Plan& next) { asio::post(main_loop, [&, next] { on_plan(next); }); });
    control->Start(source.snapshot != nullptr ? source.snapshot->version() : 0);
  }
  if (!first.has_value()) {
    // Nothing to serve yet: wait for the control plane's first snapshot (or a signal).
    spdlog::info("event=edge.waiting_for_config control={}", flags.control);
    asio::signal_set boot_signals(main_loop, SIGTERM, SIGINT);
    bool stopped = false;
    // The wait is cancelled when boot_signals goes (below): the handler then runs after this
    // block with an error and must touch nothing of it.
    boot_signals.async_wait([&](const asio::error_code& ec, int) {
      if (!ec) stopped = true;
    });
    while (!first.has_value() && !stopped) main_loop.run_one();
    if (stopped) {
      main_loop_done = true;
      return 0;
    }
  }
  if (source.snapshot != nullptr) {
    if (const absl::Status s = WriteSnapshot(flags.state_dir, *source.snapshot); !s.ok()) {
      spdlog::error("event=edge.snapshot_not_saved reason=\"{}\"", std::string(s.message()));
    }
  }
  std::shared_ptr<const EdgeConfig> config = first->config;
  std::vector<std::string> files = first->files;
  std::vector<std::filesystem::file_time_type> stamps = Stamps(files);

  shared.metrics = std::make_shared<EdgeMetrics>(config->listeners.size());
  // Health checks and outlier ejection run on their own thread; workers read the table.
  asio::io_context health_io(1);
  auto health_work = asio::make_work_guard(health_io);
  auto serving = MakeServing(config, health_io, shared);
  if (!serving.ok()) {
    spdlog::error("event=edge.config_rejected reason=\"{}\"",
                  std::string(serving.status().message()));
    return 1;
  }
  shared.serving.Set(*serving);
  shared.dns.Set(config->dns);
  std::thread health_thread([&health_io] { health_io.run(); });
  struct StopHealth {
    asio::io_context& io;
    std::thread& thread;
    SharedState& shared;
    ~StopHealth() {
      if (auto s = shared.serving.Current(); s != nullptr && s->monitor) s->monitor->Stop();
      io.stop();
      thread.join();
      // The monitor's timers belong to `io`: they go before it does.
      shared.serving.Set(nullptr);
    }
  } stop_health{health_io, health_thread, shared};

  // The BGP speaker (when the POP has peers) is made here and started once the workers serve;
  // made before the admin listener, which reads it, so that it goes after it.
  std::unique_ptr<BgpAnnouncer> bgp;
  const BgpRestartMarker bgp_marker(flags.state_dir, config->node);
  if (config->bgp != nullptr) {
    std::shared_ptr<const BgpConfig> bgp_config = config->bgp;
    if (bgp_marker.Found() && bgp_config->speaker.graceful_restart.enabled) {
      auto restarting = std::make_shared<BgpConfig>(*bgp_config);
      restarting->speaker.graceful_restart.restarting = true;
      bgp_config = std::move(restarting);
      spdlog::info(
          "event=bgp.restarting marker={} reason=\"the previous process ended without "
          "withdrawing: peers may hold its routes as stale; the OPEN sets the RFC 4724 R bit\"",
          bgp_marker.path().string());
    }
    auto created = BgpAnnouncer::Create(std::move(bgp_config));
    if (!created.ok()) {
      spdlog::error("event=edge.config_rejected reason=\"{}\"",
                    std::string(created.status().message()));
      return 1;
    }
    bgp = *std::move(created);
  }

  const int worker_count = flags.workers > 0
                               ? flags.workers
                               : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < worker_count; ++i) {
    auto worker = std::make_unique<Worker>(i, shared);
    if (const absl::Status s = worker->Listen(); !s.ok()) {
      spdlog::error("event=edge.listen_failed reason=\"{}\"", std::string(s.message()));
      return 1;
    }
    workers.push_back(std::move(worker));
  }
  AdminServer admin(shared);
  if (const absl::Status s = admin.Listen(flags.admin); !s.ok()) {
    spdlog::error("event=edge.listen_failed reason=\"{}\"", std::string(s.message()));
    return 1;
  }
  admin.set_bgp(bgp.get());
  for (auto& w : workers) w->Start();
  admin.Start();
  // Announced once the listeners serve, so the first client a route brings is answered.
  if (bgp != nullptr) {
    if (const absl::Status s = bgp->Start(config->version); !s.ok()) {
      spdlog::error("event=bgp.start_failed reason=\"{}\"", std::string(s.message()));
      return 1;
    }
    bgp_marker.Set();
  }
  bgp_for_reports = bgp.get();
  // The control client reports the speaker's sessions: it stops before the speaker goes, on
  // every way out of here.
  struct StopControl {
    std::unique_ptr<ControlClient>& client;
    ~StopControl() {
      if (client != nullptr) client->Stop();
    }
  } stop_control{control};
  spdlog::info("event=edge.started node={} pop={} version={} workers={} admin_port={} pid={}",
               config->node, config->pop, config->version, worker_count, admin.port(), getpid());

  // What is served is the loaded config (`base`) with the DNS-discovered clusters' addresses
  // filled in. Both a reload and a new DNS answer publish a new Serving the same way: one Set()
  // switches every worker over (each at its next request), and the old monitor stops.
  std::shared_ptr<const EdgeConfig> base = config;
  std::map<std::string, std::vector<asio::ip::address>> resolved;
  // Publishes what `c` announces and answers, under the plan when there is one.
  auto announce = [&](const EdgeConfig& c) {
    Planned planned{c.dns, c.bgp};
    if (plan.has_value()) {
      absl::StatusOr<Planned> p = FollowPlan(c, *plan);
      if (p.ok()) {
        planned = *std::move(p);
      } else {
        spdlog::warn("event=edge.plan_not_followed reason=\"{}\" version={}",
                     std::string(p.status().message()), c.version);
      }
    }
    shared.dns.Set(planned.dns);
    // Only changed announcements go on the wire (the speaker diffs); unchanged ones log nothing.
    if (bgp != nullptr) bgp->Update(planned.bgp, c.version);
  };
  auto publish = [&](std::string_view trigger) -> absl::Status {
    auto next = WithResolvedEndpoints(*base, resolved);
    if (!next.ok()) return next.status();
    if ((*next)->version == config->version) return absl::OkStatus();
    auto next_serving = MakeServing(*next, health_io, shared);
    if (!next_serving.ok()) return next_serving.status();
    const std::shared_ptr<const Serving> previous = shared.serving.Current();
    shared.serving.Set(*next_serving);
    previous->monitor->Stop();
    announce(**next);
    spdlog::info("event=edge.serving trigger={} version={} previous_version={}", trigger,
                 (*next)->version, config->version);
    config = *next;
    return absl::OkStatus();
  };
  auto discovery_targets = [](const EdgeConfig& c) {
    std::vector<DiscoveryLoop::Target> targets;
    for (const ClusterConfig& cluster : c.clusters) {
      if (!cluster.dns_hostname.empty()) {
        targets.push_back({cluster.name, cluster.dns_hostname, cluster.dns_refresh});
      }
    }
    return targets;
  };

  // Resolutions run on the discovery thread; what they change is applied on this one.
  DiscoveryLoop discovery(
      [&](const std::string& cluster, std::vector<asio::ip::address> found) {
        asio::post(main_loop, [&, cluster, found = std::move(found)]() mutable {
          resolved[cluster] = std::move(found);
          if (const absl::Status s = publish("dns"); !s.ok()) {
            spdlog::error("event=discovery.apply_failed cluster={} reason=\"{}\"", cluster,
                          std::string(s.message()));
          }
        });
      },
      flags.dns_resolvers);
  discovery.SetTargets(discovery_targets(*base));
  discovery.Start();

  // Switches to a loaded config: the same listeners, or an error saying why it cannot be taken
  // without a restart. Nothing changes on error.
  auto adopt = [&](const Loaded& next, std::string_view trigger) -> absl::Status {
    if (next.config->version == base->version) {
      spdlog::info("event=edge.reload_unchanged trigger={} version={}", trigger, config->version);
      return absl::OkStatus();
    }
    if (const std::string why = ListenerChange(*base, *next.config); !why.empty()) {
      return absl::FailedPreconditionError(Cat(why, ": restart to apply it"));
    }
    // The speaker keeps its sessions across reloads: its peers, ASN and router id are fixed for
    // the process's life, like the listeners; only the announcements follow the config.
    if (const std::string why = BgpSpeakerChange(base->bgp.get(), next.config->bgp.get());
        !why.empty()) {
      return absl::FailedPreconditionError(Cat(why, ": restart to apply it"));
    }
    const std::shared_ptr<const EdgeConfig> previous_base = base;
    base = next.config;
    if (const absl::Status s = publish(trigger); !s.ok()) {
      base = previous_base;
      return s;
    }
    discovery.SetTargets(discovery_targets(*base));
    spdlog::info("event=edge.reloaded trigger={} version={}", trigger, config->version);
    return absl::OkStatus();
  };

  // Reload (SIGHUP, an edited file): load, validate and compile the new config completely
  // before anything changes; any error leaves the running config serving.
  auto reload = [&](std::string_view trigger) {
    auto next = Load(source, flags);
    // Tried once per edit: the files' times are taken, so a broken file is not retried (and
    // logged) every second until it changes again.
    if (next.ok()) files = next->files;
    stamps = Stamps(files);
    const absl::Status s = next.ok() ? adopt(*next, trigger) : next.status();
    if (!s.ok()) {
      spdlog::error("event=edge.reload_rejected trigger={} reason=\"{}\" version={}", trigger,
                    std::string(s.message()), config->version);
    }
  };

  if (plan.has_value()) announce(*config);  // a plan that came while the config loaded
  on_plan = [&](const v1::Plan& next) {
    plan = next;
    spdlog::info("event=edge.plan_received prefixes={} services={} alarms={}", next.prefixes_size(),
                 next.services_size(), next.alarms_size());
    if (!shared.draining.load()) announce(*config);
  };

  // A snapshot from the control plane: applied like a reload, kept on disk once it serves.
  apply_snapshot = [&](std::shared_ptr<const v1::ConfigSnapshot> snapshot) -> absl::Status {
    if (source.snapshot != nullptr && source.snapshot->version() == snapshot->version()) {
      return absl::OkStatus();
    }
    Source next_source{"", snapshot};
    absl::StatusOr<Loaded> next = Load(next_source, flags);
    absl::Status s = next.ok() ? adopt(*next, "control") : next.status();
    if (!s.ok()) {
      spdlog::error("event=edge.snapshot_rejected version={} reason=\"{}\" serving={}",
                    snapshot->version(), std::string(s.message()), config->version);
      return s;
    }
    source = std::move(next_source);
    files.clear();  // no file to watch any more
    stamps.clear();
    if (s = WriteSnapshot(flags.state_dir, *snapshot); !s.ok()) {
      spdlog::error("event=edge.snapshot_not_saved reason=\"{}\"", std::string(s.message()));
    }
    spdlog::info("event=edge.snapshot_applied version={} config_version={}", snapshot->version(),
                 config->version);
    return absl::OkStatus();
  };

  asio::signal_set signals(main_loop, SIGTERM, SIGINT, SIGHUP);
  bool stop = false;
  std::function<void(const asio::error_code&, int)> on_signal = [&](const asio::error_code& ec,
                                                                    int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      reload("sighup");
      signals.async_wait(on_signal);
      return;
    }
    stop = true;
  };
  signals.async_wait(on_signal);
  // A changed file reloads too: its modification time is looked at every second.
  asio::steady_timer poll(main_loop);
  std::function<void(const asio::error_code&)> on_poll = [&](const asio::error_code& ec) {
    if (ec) return;
    if (Stamps(files) != stamps) reload("file_changed");
    poll.expires_after(std::chrono::seconds(1));
    poll.async_wait(on_poll);
  };
  poll.expires_after(std::chrono::seconds(1));
  poll.async_wait(on_poll);
  while (!stop) main_loop.run_one();

  // Drain: with BGP, first re-announce with GRACEFUL_SHUTDOWN and keep serving while the peers
  // move traffic away (RFC 8326). Then refuse new connections (and /ready says so), let requests
  // in flight finish within the deadline (the routes, still there, bring their packets); keep-alive
  // connections close after their current response. Last, withdraw and tell the peers (Cease).
  const auto drain_start = std::chrono::steady_clock::now();
  const auto deadline =
      drain_start + std::chrono::milliseconds(static_cast<int64_t>(flags.drain_seconds * 1000));
  spdlog::info("event=edge.draining open_connections={} deadline_s={}",
               shared.open_connections.load(), flags.drain_seconds);
  main_loop_done = true;
  if (control != nullptr) control->Stop();
  discovery.Stop();
  if (bgp != nullptr) {
    bgp->Drain(flags.bgp_drain_prepend);
    // With no session up there is no one to steer away, and nothing to wait for.
    const size_t established = bgp->Established();
    const double wait_s =
        established > 0 ? std::min(flags.bgp_drain_seconds, flags.drain_seconds) : 0.0;
    spdlog::info("event=bgp.drain_wait seconds={} established_peers={}", wait_s, established);
    const auto until = drain_start + std::chrono::milliseconds(static_cast<int64_t>(wait_s * 1000));
    while (std::chrono::steady_clock::now() < until && bgp->Established() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  shared.draining.store(true);
  for (auto& w : workers) w->StopAccepting();
  while (shared.open_connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int64_t left = shared.open_connections.load();
  if (bgp != nullptr) {
    bgp->WithdrawAll();
    bgp->Stop(std::chrono::seconds(2));
    bgp_marker.Clear();
  }
  for (auto& w : workers) w->Stop();
  admin.Stop();
  spdlog::info("event=edge.stopped connections_cut={}", left);
  return 0;
}

}  // namespace
}  // namespace holdfast::edge

int main(int argc, char** argv) {
  holdfast::edge::Flags flags;
  CLI::App app{
      "holdfast-edge: the per-node edge daemon. Serves the listeners, routes and clusters of one "
      "node of the config (http, https, tcp, tls and dns listeners), with an admin "
      "listener for /healthz, /ready, /metrics, /clusters, /config and /bgp. With BGP peers in "
      "its POP it announces the POP's prefixes to them. The config comes from a "
      "file (SIGHUP or an edit reloads it) or from the control plane (--control); an invalid "
      "config is refused and the running one kept. SIGTERM drains (BGP: GRACEFUL_SHUTDOWN, then "
      "withdraw) and exits 0."};
  auto* config = app.add_option("--config", flags.config,
                                "The config file (as for holdfastctl validate); with --control, "
                                "what to serve until the control plane sends a config")
                     ->check(CLI::ExistingFile);
  app.add_option("--node", flags.node, "This node's name in the config's pops[].nodes")->required();
  app.add_option("--admin", flags.admin, "Admin listener address, HOST:PORT (port 0: any free)")
      ->default_val("127.0.0.1:9901");
  app.add_option("--workers", flags.workers, "Event loops (threads); 0 means one per core")
      ->default_val(0)
      ->check(CLI::Range(0, 256));
  app.add_option("--drain-timeout", flags.drain_seconds,
                 "Seconds SIGTERM waits for requests in flight before exiting")
      ->default_val(30)
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--bgp-drain-time", flags.bgp_drain_seconds,
                 "Seconds SIGTERM serves on with the routes marked GRACEFUL_SHUTDOWN (65535:0) "
                 "before it stops accepting and withdraws; at most --drain-timeout")
      ->default_val(10)
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--bgp-drain-prepend", flags.bgp_drain_prepend,
                 "Extra copies of the local ASN prepended to AS_PATH while draining")
      ->default_val(0)
      ->check(CLI::Range(0, 10));
  app.add_option("--dns-resolvers", flags.dns_resolvers,
                 "Resolvers for DNS-discovered clusters, HOST:PORT[,HOST:PORT...]; default: "
                 "the system's (/etc/hosts, then /etc/resolv.conf)");
  auto* control = app.add_option(
      "--control", flags.control,
      "The control plane, HOST:PORT: take the config from it (ACK/NACK each version, report "
      "health), and start from the last version applied when it is unreachable");
  auto* control_insecure =
      app.add_flag("--control-insecure", flags.control_insecure,
                   "Plaintext to the control plane (a control plane run with --insecure)");
  app.add_option("--control-ca", flags.control_ca, "CA of the control plane's certificate")
      ->needs(control)
      ->excludes(control_insecure);
  app.add_option("--control-cert", flags.control_cert,
                 "This node's certificate (PEM): CN the node's name, OU edge")
      ->needs(control)
      ->excludes(control_insecure);
  app.add_option("--control-key", flags.control_key, "This node's private key (PEM)")
      ->needs(control)
      ->excludes(control_insecure);
  app.add_option("--state-dir", flags.state_dir,
                 "Where the last config from the control plane is kept (snapshot.pb), and "
                 "whether BGP ended cleanly (bgp-NODE.running, for graceful restart)")
      ->default_val("/var/lib/holdfast");
  app.add_option("--files-dir", flags.files_dir,
                 "Where files a control plane's config names by relative path (certificates, "
                 "keys) are; default: the --config file's directory, else --state-dir");
  flags.log.AddTo(app);
  CLI11_PARSE(app, argc, argv);
  if (config->count() == 0 && control->count() == 0) {
    std::cerr << "holdfast-edge: give --config FILE, or --control HOST:PORT (or both)\n";
    return 2;
  }
  if (control->count() > 0 && !flags.control_insecure &&
      (flags.control_ca.empty() || flags.control_cert.empty() || flags.control_key.empty())) {
    std::cerr << "holdfast-edge: --control needs --control-ca, --control-cert and --control-key "
                 "(mTLS), or --control-insecure\n";
    return 2;
  }

  flags.log.Init();
  std::signal(SIGPIPE, SIG_IGN);
  return holdfast::edge::Run(flags);
}
