// holdfast-edge: the per-node daemon. Flags and start-up only: the daemon is an Instance
// (edge/daemon/instance.h) fed by a config source (edge/daemon/config_source.h), a file
// (--config) or the control plane (--control).
#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/file/read_file.h"
#include "common/log/log_flags.h"
#include "edge/daemon/config_source.h"
#include "edge/daemon/instance.h"
#include "edge/daemon/startup.h"
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
  double report_heartbeat_seconds = 1;
};

// Where relative file names of a control plane's config (certificates, keys) are looked up.
std::string FilesDir(const Flags& flags) {
  if (!flags.files_dir.empty()) return flags.files_dir;
  if (!flags.config.empty()) return std::filesystem::path(flags.config).parent_path().string();
  return flags.state_dir;
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

std::unique_ptr<ConfigSource> MakeSource(const Flags& flags, asio::io_context& main_loop) {
  SourceOptions options{flags.node, flags.config, FilesDir(flags)};
  if (flags.control.empty()) return std::make_unique<FileSource>(options, main_loop);
  std::shared_ptr<grpc::ChannelCredentials> credentials = ControlCredentials(flags);
  if (credentials == nullptr) return nullptr;
  return std::make_unique<ControlSource>(
      options,
      ControlOptions{flags.control, std::move(credentials), flags.state_dir,
                     absl::Seconds(flags.report_heartbeat_seconds)},
      main_loop);
}

int Run(const Flags& flags) {
  asio::io_context main_loop(1);
  InstanceOptions options;
  options.node = flags.node;
  options.admin = flags.admin;
  options.workers = flags.workers;
  options.drain_timeout = absl::Seconds(flags.drain_seconds);
  options.bgp_drain_time = absl::Seconds(flags.bgp_drain_seconds);
  options.bgp_drain_prepend = flags.bgp_drain_prepend;
  options.dns_resolvers = flags.dns_resolvers;
  options.state_dir = flags.state_dir;
  Instance instance(std::move(options), main_loop);
  const std::unique_ptr<ConfigSource> source = MakeSource(flags, main_loop);
  if (source == nullptr) return 1;

  bool stopped = false;
  // Before any thread starts: no signal may reach the default action.
  const SignalLoop signals(
      main_loop, [&] { source->Reload(); },
      [&](int) {
        instance.Drain([&] { stopped = true; });
        // Then the control plane: its last report says the node drains, and nothing new
        // arrives while it does (plans and snapshots wait on this loop, which runs this).
        source->Stop();
      });
  absl::StatusOr<std::optional<Loaded>> first = source->First();
  if (!first.ok()) return 1;
  if (first->has_value()) {
    if (!instance.Apply(**first, "start").ok()) return instance.exit_code();
  } else {
    spdlog::info("event=edge.waiting_for_config control={}", flags.control);
  }
  source->Start(instance);
  while (!stopped && instance.phase() != Instance::Phase::kStopped) main_loop.run_one();
  source->Stop();
  return instance.exit_code();
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
  app.add_option("--report-heartbeat", flags.report_heartbeat_seconds,
                 "Seconds between health reports to the control plane when nothing changes; a "
                 "change (listeners, draining, endpoint health, BGP sessions) is reported at once")
      ->default_val(1)
      ->check(CLI::Range(0.1, 60.0))
      ->needs(control);
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
