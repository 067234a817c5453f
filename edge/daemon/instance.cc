#include "edge/daemon/instance.h"

#include <unistd.h>

#include <asio/post.hpp>
#include <utility>

#include "common/cat.h"
#include "edge/agent/plan_follower.h"
#include "edge/agent/report.h"
#include "edge/daemon/startup.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

using SteadyClock = std::chrono::steady_clock;

// How often the drain looks at what it waits for: BGP sessions going, connections closing.
constexpr std::chrono::milliseconds kBgpDrainPoll{50};
constexpr std::chrono::milliseconds kConnectionsPoll{20};

SteadyClock::duration ToSteady(absl::Duration d) {
  return std::chrono::duration_cast<SteadyClock::duration>(absl::ToChronoNanoseconds(d));
}

// What the edge serves for `config`: its health monitor (started), its clusters' counters and
// gates, and its listeners' client limiters and access logs (opened).
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
    serving->cluster_gates.push_back(
        shared.gates.Get(c.name, c.gate, std::chrono::steady_clock::now()));
  }
  for (const ListenerConfig& l : config->listeners) {
    serving->client_limiters.push_back(
        l.client_limit.has_value() ? std::make_shared<ClientLimiter>(*l.client_limit) : nullptr);
    std::shared_ptr<AccessLog>& log = serving->access_logs.emplace_back();
    if (l.access_log_format == v1::AccessLog::FORMAT_UNSPECIFIED) continue;
    auto opened =
        AccessLog::Open(l.access_log_path, l.access_log_format == v1::AccessLog::FORMAT_JSON
                                               ? AccessLogFormat::kJson
                                               : AccessLogFormat::kText);
    if (!opened.ok()) return opened.status();
    log = *std::move(opened);
  }
  auto monitor =
      HealthMonitor::Create(health_io, std::move(monitored), shared.health, {config->version});
  if (!monitor.ok()) return monitor.status();
  serving->monitor = *std::move(monitor);
  serving->monitor->Start();
  serving->config = std::move(config);
  return std::shared_ptr<const Serving>(std::move(serving));
}

std::vector<DiscoveryLoop::Target> DiscoveryTargets(const EdgeConfig& c) {
  std::vector<DiscoveryLoop::Target> targets;
  for (const ClusterConfig& cluster : c.clusters) {
    if (!cluster.dns_hostname.empty()) {
      targets.push_back({cluster.name, cluster.dns_hostname, cluster.dns_refresh});
    }
  }
  return targets;
}

}  // namespace

Instance::Instance(InstanceOptions options, asio::io_context& main_loop)
    : options_(std::move(options)),
      main_loop_(main_loop),
      drain_timer_(main_loop),
      fate_timer_(main_loop),
      health_work_(asio::make_work_guard(health_io_)) {}

Instance::~Instance() {
  // Whatever phase it ends in: what runs on threads of its own stops before its state goes.
  if (discovery_ != nullptr) discovery_->Stop();
  for (auto& w : workers_) w->Stop();
  if (admin_ != nullptr) admin_->Stop();
  // The speaker is not stopped here: one that did not drain ends its sessions without a
  // NOTIFICATION, as a crash would (announcer.h), and its peers keep the routes as stale.
  if (auto s = shared_.serving.Current(); s != nullptr && s->monitor) s->monitor->Stop();
  health_io_.stop();
  if (health_thread_.joinable()) health_thread_.join();
  // The monitor's timers belong to health_io_: they go before it does.
  shared_.serving.Set(nullptr);
}

absl::Status Instance::Apply(const Loaded& loaded, std::string_view trigger) {
  switch (phase_) {
    case Phase::kBooting:
      if (absl::Status s = Serve(loaded); !s.ok()) {
        // A config that loaded and still cannot be served here: an address taken, a speaker
        // that cannot start.
        spdlog::error("event=edge.start_failed trigger={} reason=\"{}\"", trigger,
                      std::string(s.message()));
        exit_code_ = 1;
        Stop();
        return s;
      }
      return absl::OkStatus();
    case Phase::kServing:
      return Adopt(loaded, trigger);
    case Phase::kDraining:
    case Phase::kStopped:
      break;
  }
  return absl::UnavailableError("the edge is stopping");
}

absl::Status Instance::Serve(const Loaded& loaded) {
  const std::shared_ptr<const EdgeConfig>& config = loaded.config;
  shared_.metrics = std::make_shared<EdgeMetrics>(config->listeners.size());
  auto serving = MakeServing(config, health_io_, shared_);
  if (!serving.ok()) return serving.status();
  shared_.serving.Set(*serving);
  shared_.dns.Set(config->dns);
  health_thread_ = std::thread([this] { health_io_.run(); });
  base_ = config_ = config;

  bgp_marker_.emplace(options_.state_dir, config->node);
  if (absl::Status s = StartBgp(*config); !s.ok()) return s;
  if (absl::Status s = StartWorkers(); !s.ok()) return s;

  discovery_ = std::make_unique<DiscoveryLoop>(
      [this](const std::string& cluster, std::vector<asio::ip::address> found) {
        // Resolved on the discovery thread, applied on the main loop.
        asio::post(main_loop_, [this, cluster, found = std::move(found)]() mutable {
          OnResolved(cluster, std::move(found));
        });
      },
      options_.dns_resolvers);
  discovery_->SetTargets(DiscoveryTargets(*base_));
  discovery_->Start();

  phase_ = Phase::kServing;
  spdlog::info("event=edge.started node={} pop={} version={} workers={} admin_port={} pid={}",
               config->node, config->pop, config->version, workers_.size(), admin_->port(),
               getpid());
  if (plan_.has_value()) Announce(*config_);  // a plan that came while booting
  if (bgp_ != nullptr) CheckFate();
  return absl::OkStatus();
}

void Instance::CheckFate() {
  if (phase_ != Phase::kServing) return;
  const auto now = SteadyClock::now();
  const size_t wedged = shared_.watchdog->Wedged(now);
  const bool withdrawn = shared_.self_withdrawn.load();
  if (wedged > 0) {
    fate_recovered_since_.reset();
    if (!withdrawn) {
      shared_.self_withdrawn.store(true);
      spdlog::error(
          "event=edge.self_withdrawn wedged_workers={} reason=\"worker loops stuck for more than "
          "{}s: the node cannot serve, so it withdraws every prefix itself\"",
          wedged, Watchdog::kWedgedAfter.count());
      Announce(*config_);
    }
  } else if (withdrawn) {
    if (!fate_recovered_since_.has_value()) fate_recovered_since_ = now;
    if (now - *fate_recovered_since_ >= kFateRecovery) {
      fate_recovered_since_.reset();
      shared_.self_withdrawn.store(false);
      spdlog::info("event=edge.self_restored reason=\"every worker loop has run for {}s\"",
                   kFateRecovery.count());
      Announce(*config_);
    }
  }
  fate_timer_.expires_after(kFateCheck);
  fate_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) CheckFate();
  });
}

absl::Status Instance::StartBgp(const EdgeConfig& config) {
  if (config.bgp == nullptr) return absl::OkStatus();
  std::shared_ptr<const BgpConfig> bgp_config = config.bgp;
  if (bgp_marker_->Found() && bgp_config->speaker.graceful_restart.enabled) {
    auto restarting = std::make_shared<BgpConfig>(*bgp_config);
    restarting->speaker.graceful_restart.restarting = true;
    bgp_config = std::move(restarting);
    spdlog::info(
        "event=bgp.restarting marker={} reason=\"the previous process ended without "
        "withdrawing: peers may hold its routes as stale; the OPEN sets the RFC 4724 R bit\"",
        bgp_marker_->path().string());
  }
  auto created = BgpAnnouncer::Create(std::move(bgp_config));
  if (!created.ok()) return created.status();
  bgp_ = *std::move(created);
  return absl::OkStatus();
}

absl::Status Instance::StartWorkers() {
  const int count = ThreadCount(options_.workers);
  shared_.watchdog = std::make_shared<Watchdog>(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    auto worker = std::make_unique<Worker>(i, shared_);
    if (absl::Status s = worker->Listen(); !s.ok()) return s;
    workers_.push_back(std::move(worker));
  }
  admin_ = std::make_unique<AdminServer>(shared_);
  if (absl::Status s = admin_->Listen(options_.admin); !s.ok()) return s;
  admin_->set_bgp(bgp_.get());
  for (auto& w : workers_) w->Start();
  admin_->Start();
  // Announced once the listeners serve, so the first client a route brings is answered.
  if (bgp_ != nullptr) {
    if (absl::Status s = bgp_->Start(config_->version); !s.ok()) return s;
    bgp_marker_->Set();
    bgp_for_reports_ = bgp_.get();
  }
  return absl::OkStatus();
}

absl::Status Instance::Adopt(const Loaded& loaded, std::string_view trigger) {
  const std::shared_ptr<const EdgeConfig>& next = loaded.config;
  if (next->version == base_->version) {
    spdlog::info("event=edge.reload_unchanged trigger={} version={}", trigger, config_->version);
    return absl::OkStatus();
  }
  if (const std::string why = ListenerChange("listeners", base_->listeners, next->listeners);
      !why.empty()) {
    return absl::FailedPreconditionError(Cat(why, ": restart to apply it"));
  }
  // The speaker keeps its sessions across reloads: its peers, ASN and router id are fixed for
  // the process's life, like the listeners; only the announcements follow the config.
  if (const std::string why = BgpSpeakerChange(base_->bgp.get(), next->bgp.get()); !why.empty()) {
    return absl::FailedPreconditionError(Cat(why, ": restart to apply it"));
  }
  const std::shared_ptr<const EdgeConfig> previous_base = base_;
  base_ = next;
  if (absl::Status s = Publish(trigger); !s.ok()) {
    base_ = previous_base;
    return s;
  }
  discovery_->SetTargets(DiscoveryTargets(*base_));
  spdlog::info("event=edge.reloaded trigger={} version={}", trigger, config_->version);
  return absl::OkStatus();
}

absl::Status Instance::Publish(std::string_view trigger) {
  // A reload and a new DNS answer publish a new Serving the same way: one Set() switches every
  // worker over (each at its next request), and the old monitor stops.
  auto next = WithResolvedEndpoints(*base_, resolved_);
  if (!next.ok()) return next.status();
  if ((*next)->version == config_->version) return absl::OkStatus();
  auto next_serving = MakeServing(*next, health_io_, shared_);
  if (!next_serving.ok()) return next_serving.status();
  const std::shared_ptr<const Serving> previous = shared_.serving.Current();
  shared_.serving.Set(*next_serving);
  previous->monitor->Stop();
  Announce(**next);
  spdlog::info("event=edge.serving trigger={} version={} previous_version={}", trigger,
               (*next)->version, config_->version);
  config_ = *next;
  return absl::OkStatus();
}

void Instance::Announce(const EdgeConfig& c) {
  Planned planned{c.dns, c.bgp};
  if (plan_.has_value()) {
    absl::StatusOr<Planned> p = edge::FollowPlan(c, *plan_);
    if (p.ok()) {
      planned = *std::move(p);
    } else {
      spdlog::warn("event=edge.plan_not_followed reason=\"{}\" version={}",
                   std::string(p.status().message()), c.version);
    }
  }
  shared_.dns.Set(planned.dns);
  if (shared_.self_withdrawn.load() && planned.bgp != nullptr) {
    auto none = std::make_shared<BgpConfig>(*planned.bgp);
    none->announcements.clear();
    planned.bgp = std::move(none);
  }
  // Only changed announcements go on the wire (the speaker diffs); unchanged ones log nothing.
  if (bgp_ != nullptr) bgp_->Update(planned.bgp, c.version);
}

void Instance::FollowPlan(const v1::Plan& plan) {
  if (phase_ == Phase::kDraining || phase_ == Phase::kStopped) return;
  plan_ = plan;
  if (phase_ == Phase::kBooting) return;  // followed once serving
  spdlog::info("event=edge.plan_received prefixes={} services={} alarms={}", plan.prefixes_size(),
               plan.services_size(), plan.alarms_size());
  Announce(*config_);
}

void Instance::OnResolved(const std::string& cluster, std::vector<asio::ip::address> addresses) {
  if (phase_ != Phase::kServing) return;
  resolved_[cluster] = std::move(addresses);
  if (const absl::Status s = Publish("dns"); !s.ok()) {
    spdlog::error("event=discovery.apply_failed cluster={} reason=\"{}\"", cluster,
                  std::string(s.message()));
  }
}

v1::HealthReport Instance::Report(absl::Time now) const {
  const BgpAnnouncer* bgp = bgp_for_reports_.load();
  if (bgp == nullptr) return MakeReport(shared_, now, {}, {});
  return MakeReport(shared_, now, bgp->Status(), bgp->BfdStatus());
}

// The drain: with BGP, first re-announce with GRACEFUL_SHUTDOWN and keep serving while the peers
// move traffic away (RFC 8326). Then refuse new connections (and /ready says so), let requests in
// flight finish within the deadline (the routes, still there, bring their packets); keep-alive
// connections close after their current response. Last, withdraw and tell the peers (Cease).
void Instance::Drain(std::function<void()> stopped) {
  if (phase_ == Phase::kDraining || phase_ == Phase::kStopped) return;  // under way already
  stopped_ = std::move(stopped);
  if (phase_ == Phase::kBooting) {
    Stop();
    return;
  }
  phase_ = Phase::kDraining;
  shared_.drain_started.store(true);  // the control client's last report says so
  const SteadyClock::time_point start = SteadyClock::now();
  drain_deadline_ = start + ToSteady(options_.drain_timeout);
  spdlog::info("event=edge.draining open_connections={} deadline_s={}",
               shared_.open_connections.load(), absl::ToDoubleSeconds(options_.drain_timeout));
  discovery_->Stop();
  if (bgp_ == nullptr) {
    StopAccepting();
    return;
  }
  bgp_->Drain(options_.bgp_drain_prepend);
  // With no session up there is no one to steer away, and nothing to wait for.
  const size_t established = bgp_->Established();
  const absl::Duration wait = established > 0
                                  ? std::min(options_.bgp_drain_time, options_.drain_timeout)
                                  : absl::ZeroDuration();
  spdlog::info("event=bgp.drain_wait seconds={} established_peers={}", absl::ToDoubleSeconds(wait),
               established);
  WaitBgpDrain(start + ToSteady(wait));
}

void Instance::WaitBgpDrain(SteadyClock::time_point until) {
  if (SteadyClock::now() >= until || bgp_->Established() == 0) {
    StopAccepting();
    return;
  }
  drain_timer_.expires_after(kBgpDrainPoll);
  drain_timer_.async_wait([this, until](const asio::error_code& ec) {
    if (!ec) WaitBgpDrain(until);
  });
}

void Instance::StopAccepting() {
  shared_.draining.store(true);
  for (auto& w : workers_) w->StopAccepting();
  WaitConnections();
}

void Instance::WaitConnections() {
  if (shared_.open_connections.load() == 0 || SteadyClock::now() >= drain_deadline_) {
    Stop();
    return;
  }
  drain_timer_.expires_after(kConnectionsPoll);
  drain_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) WaitConnections();
  });
}

void Instance::Stop() {
  fate_timer_.cancel();
  if (phase_ == Phase::kDraining || phase_ == Phase::kServing) {
    const int64_t left = shared_.open_connections.load();
    if (bgp_ != nullptr) {
      bgp_->WithdrawAll();
      bgp_->Stop(std::chrono::seconds(2));
      bgp_marker_->Clear();
    }
    for (auto& w : workers_) w->Stop();
    admin_->Stop();
    spdlog::info("event=edge.stopped connections_cut={}", left);
  }
  phase_ = Phase::kStopped;
  if (stopped_) std::exchange(stopped_, nullptr)();
}

}  // namespace holdfast::edge
