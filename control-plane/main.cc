// holdfast-control: the control plane. Keeps every config version and the audit log in its
// store, validates and applies operators' changes, and keeps every edge node's stream: the
// version in force goes down, ACK/NACK and health reports come up. SIGTERM or SIGINT stops it.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "common/file/read_file.h"
#include "common/log/log_flags.h"
#include "control-plane/server/control_plane.h"
#include "control-plane/server/services.h"
#include "control-plane/store/store.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {
namespace {

struct Flags {
  std::string listen;
  std::string store;
  std::string tls_cert;
  std::string tls_key;
  std::string client_ca;
  bool insecure = false;
  holdfast::LogFlags log;
  int plan_interval_ms = 2000;
  std::string governor = "on";
  bool allow_global_blackhole = false;
};

int Run(const Flags& flags) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (!flags.store.starts_with(kSqlite)) {
    spdlog::critical("event=control.bad_flag flag=--store reason=\"expected sqlite:PATH\"");
    return 2;
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(flags.store.substr(kSqlite.size()));
  if (!store.ok()) {
    spdlog::critical("event=control.store_failed error=\"{}\"", store.status().ToString());
    return 1;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (flags.insecure) {
    spdlog::warn(
        "event=control.insecure reason=\"--insecure: plaintext, no authentication; every "
        "caller is an operator. For the local lab only.\"");
    credentials = grpc::InsecureServerCredentials();
  } else {
    // A client certificate is verified when given but not required at the handshake, so a
    // caller without one reaches the services, is refused there, and the refusal is audited.
    grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    absl::StatusOr<std::string> ca = ReadFile(flags.client_ca);
    absl::StatusOr<std::string> key = ReadFile(flags.tls_key);
    absl::StatusOr<std::string> cert = ReadFile(flags.tls_cert);
    if (!ca.ok() || !key.ok() || !cert.ok()) {
      spdlog::critical(
          "event=control.tls_failed reason=\"cannot read --tls-cert, --tls-key or --client-ca\"");
      return 1;
    }
    options.pem_root_certs = *std::move(ca);
    pair.private_key = *std::move(key);
    pair.cert_chain = *std::move(cert);
    options.pem_key_cert_pairs.push_back(std::move(pair));
    credentials = grpc::SslServerCredentials(options);
  }

  ControlPlane control(*std::move(store), [] { return absl::Now(); });
  if (flags.governor == "off") {
    control.DisableGovernor(
        "--governor off --allow-global-blackhole: the safety governor is off (incident replay)");
  }
  // The plan follows the reports: made at once when one changes what the planner acts on, and
  // again every --plan-interval (staleness, the rollout's bake), sent when it changes.
  std::mutex plan_mu;
  std::condition_variable plan_wake;
  bool stopping = false;
  bool evidence = false;
  control.SetReplanWake([&] {
    {
      std::lock_guard lock(plan_mu);
      evidence = true;
    }
    plan_wake.notify_one();
  });
  SyncService sync(control, !flags.insecure);
  OperatorService operators(control, !flags.insecure);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags.listen, credentials, &port);
  builder.RegisterService(&sync);
  builder.RegisterService(&operators);
  // Edges keep their streams open for days: keepalives find the ones that silently went away.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::critical("event=control.listen_failed listen={}", flags.listen);
    return 1;
  }
  spdlog::info("event=control.started listen={} port={} tls={}", flags.listen, port,
               !flags.insecure);

  std::thread planner([&] {
    std::unique_lock lock(plan_mu);
    while (true) {
      plan_wake.wait_for(lock, std::chrono::milliseconds(flags.plan_interval_ms),
                         [&] { return stopping || evidence; });
      if (stopping) break;
      // Reports that arrive while it plans are one more plan, not one each.
      evidence = false;
      lock.unlock();
      control.Replan();
      lock.lock();
    }
  });

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  int signal = 0;
  sigwait(&stop, &signal);
  {
    std::lock_guard lock(plan_mu);
    stopping = true;
  }
  plan_wake.notify_all();
  planner.join();
  spdlog::info("event=control.stopping signal={}", signal);
  control.EndStreams("the control plane is stopping");
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  spdlog::info("event=control.stopped");
  return 0;
}

}  // namespace
}  // namespace holdfast::control

int main(int argc, char** argv) {
  holdfast::control::Flags flags;
  CLI::App app{
      "holdfast-control: the control plane. Stores config versions and the audit log, applies "
      "operators' changes (holdfastctl plan/apply/rollback) and keeps every edge node on the "
      "version in force over gRPC (mTLS; --insecure for the local lab only)."};
  app.add_option("--listen", flags.listen, "gRPC address, HOST:PORT (port 0: any free)")
      ->default_val("127.0.0.1:7443");
  app.add_option("--store", flags.store, "Where versions and the audit log live: sqlite:PATH")
      ->default_val("sqlite:/var/lib/holdfast/control.db");
  auto* cert = app.add_option("--tls-cert", flags.tls_cert, "Server certificate chain (PEM)");
  auto* key = app.add_option("--tls-key", flags.tls_key, "Server private key (PEM)");
  auto* ca = app.add_option("--client-ca", flags.client_ca,
                            "CA that signs edge and operator certificates (PEM); the "
                            "certificate's OU is the role: edge, viewer or operator");
  auto* insecure = app.add_flag("--insecure", flags.insecure,
                                "Plaintext without authentication (local lab only)");
  insecure->excludes(cert)->excludes(key)->excludes(ca);
  app.add_option("--plan-interval-ms", flags.plan_interval_ms,
                 "How often the announcement plan is made again when no report changed (a report "
                 "that changes what the planner acts on is planned at once); also the rollout's "
                 "tick")
      ->default_val(2000)
      ->check(CLI::Range(100, 600000));
  app.add_option("--governor", flags.governor,
                 "The safety governor (floor, withdrawal rate, correlated-failure freeze): on, or "
                 "off for the lab's incident replays only; off needs --allow-global-blackhole")
      ->default_val("on")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--allow-global-blackhole", flags.allow_global_blackhole,
               "Accept that with --governor off every POP may withdraw every prefix at once");
  flags.log.AddTo(app);
  CLI11_PARSE(app, argc, argv);
  if (flags.governor == "off" && !flags.allow_global_blackhole) {
    std::cerr << "holdfast-control: refusing --governor off: without the governor every POP can "
                 "withdraw every prefix at once (a global blackhole, Facebook 2021). Add "
                 "--allow-global-blackhole if that is what this run is for (incident replays)\n";
    return 2;
  }
  if (!flags.insecure &&
      (flags.tls_cert.empty() || flags.tls_key.empty() || flags.client_ca.empty())) {
    std::cerr << "holdfast-control: give --tls-cert, --tls-key and --client-ca, or --insecure\n";
    return 2;
  }

  flags.log.Init();
  // The signals are waited for by the main thread; block them before gRPC starts its threads.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return holdfast::control::Run(flags);
}
