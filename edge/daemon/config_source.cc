#include "edge/daemon/config_source.h"

#include <asio/post.hpp>
#include <atomic>
#include <chrono>
#include <future>
#include <utility>

#include "absl/time/clock.h"
#include "edge/agent/snapshot_file.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

constexpr std::chrono::seconds kFilePoll{1};

// Modification times of the config's files, to notice an edit.
std::vector<std::filesystem::file_time_type> Stamps(const std::vector<std::string>& files) {
  std::vector<std::filesystem::file_time_type> out;
  for (const std::string& f : files) {
    std::error_code ec;
    out.push_back(std::filesystem::last_write_time(f, ec));
  }
  return out;
}

std::string ServingVersion(const Instance& instance) {
  return instance.config() != nullptr ? instance.config()->version : "none";
}

}  // namespace

FileSource::FileSource(SourceOptions options, asio::io_context& main_loop)
    : options_(std::move(options)), poll_(main_loop) {}

absl::StatusOr<std::optional<Loaded>> FileSource::First() {
  absl::StatusOr<Loaded> loaded = LoadConfig({options_.file, nullptr}, options_.node, "");
  if (!loaded.ok()) {
    spdlog::error("event=edge.config_rejected source={} reason=\"{}\"", options_.file,
                  std::string(loaded.status().message()));
    return loaded.status();
  }
  files_ = loaded->files;
  stamps_ = Stamps(files_);
  return std::optional<Loaded>(*std::move(loaded));
}

void FileSource::Start(Instance& instance) {
  instance_ = &instance;
  Poll();
}

void FileSource::Poll() {
  poll_.expires_after(kFilePoll);
  poll_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;  // stopped
    if (Stamps(files_) != stamps_) Load("file_changed");
    Poll();
  });
}

void FileSource::Stop() { poll_.cancel(); }

// Load, validate and compile the new config completely before anything changes; any error
// leaves the running config serving.
void FileSource::Load(std::string_view trigger) {
  if (instance_ == nullptr) return;
  absl::StatusOr<Loaded> next = LoadConfig({options_.file, nullptr}, options_.node, "");
  // Tried once per edit: the files' times are taken, so a broken file is not retried (and
  // logged) every second until it changes again.
  if (next.ok()) files_ = next->files;
  stamps_ = Stamps(files_);
  const absl::Status s = next.ok() ? instance_->Apply(*next, trigger) : next.status();
  if (!s.ok()) {
    spdlog::error("event=edge.reload_rejected trigger={} reason=\"{}\" version={}", trigger,
                  std::string(s.message()), ServingVersion(*instance_));
  }
}

// A snapshot the client's thread waits for: answered once, by the main loop or by Stop().
struct ControlSource::PendingApply {
  std::promise<absl::Status> outcome;
  std::atomic<bool> answered{false};

  bool Answer(absl::Status s) {
    if (answered.exchange(true)) return false;
    outcome.set_value(std::move(s));
    return true;
  }
};

ControlSource::ControlSource(SourceOptions options, ControlOptions control,
                             asio::io_context& main_loop)
    : options_(std::move(options)), control_(std::move(control)), main_loop_(main_loop) {}

ControlSource::~ControlSource() { Stop(); }

absl::StatusOr<std::optional<Loaded>> ControlSource::First() {
  absl::StatusOr<v1::ConfigSnapshot> persisted = ReadSnapshot(control_.state_dir);
  if (persisted.ok()) {
    auto snapshot = std::make_shared<const v1::ConfigSnapshot>(*std::move(persisted));
    spdlog::info("event=edge.snapshot_loaded state_dir={} version={}", control_.state_dir,
                 snapshot->version());
    absl::StatusOr<Loaded> loaded = LoadConfig({"", snapshot}, options_.node, options_.files_dir);
    if (loaded.ok()) {
      snapshot_ = std::move(snapshot);
      return std::optional<Loaded>(*std::move(loaded));
    }
    // A snapshot that no longer loads (a certificate gone): wait for the control plane's.
    spdlog::error("event=edge.config_rejected source=snapshot reason=\"{}\"",
                  std::string(loaded.status().message()));
    return std::optional<Loaded>();
  }
  if (!absl::IsNotFound(persisted.status())) {
    spdlog::warn("event=edge.snapshot_unreadable state_dir={} reason=\"{}\"", control_.state_dir,
                 std::string(persisted.status().message()));
  }
  if (options_.file.empty()) return std::optional<Loaded>();
  file_ = std::make_unique<FileSource>(options_, main_loop_);
  return file_->First();
}

void ControlSource::Start(Instance& instance) {
  instance_ = &instance;
  if (file_ != nullptr) file_->Start(instance);
  ControlClientOptions client;
  client.address = control_.address;
  client.credentials = control_.credentials;
  client.node = options_.node;
  client.heartbeat = control_.report_heartbeat;
  if (instance.config() != nullptr) client.pop = instance.config()->pop;
  client_ = std::make_unique<ControlClient>(
      std::move(client),
      [this](const v1::ConfigSnapshot& snapshot) { return ApplyFromClient(snapshot); },
      [&instance] { return instance.Report(absl::Now()); },
      [this, &instance](const v1::Plan& plan) {
        asio::post(main_loop_, [&instance, plan] { instance.FollowPlan(plan); });
      });
  client_->Start(snapshot_ != nullptr ? snapshot_->version() : 0);
}

absl::Status ControlSource::ApplyFromClient(const v1::ConfigSnapshot& received) {
  auto call = std::make_shared<PendingApply>();
  std::future<absl::Status> outcome = call->outcome.get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return absl::UnavailableError("the edge is stopping");
    pending_.push_back(call);
  }
  auto snapshot = std::make_shared<const v1::ConfigSnapshot>(received);
  // Runs on the main loop, as Stop() does: once Stop() has answered the call, `this` is not
  // touched.
  asio::post(main_loop_, [this, call, snapshot] {
    if (!call->answered.load()) call->Answer(ApplySnapshot(snapshot));
  });
  absl::Status s = outcome.get();
  std::lock_guard lock(mu_);
  std::erase(pending_, call);
  return s;
}

// A snapshot from the control plane: applied like a reload, kept on disk once it serves.
absl::Status ControlSource::ApplySnapshot(std::shared_ptr<const v1::ConfigSnapshot> snapshot) {
  if (snapshot_ != nullptr && snapshot_->version() == snapshot->version()) {
    return absl::OkStatus();
  }
  absl::StatusOr<Loaded> next = LoadConfig({"", snapshot}, options_.node, options_.files_dir);
  absl::Status s = next.ok() ? instance_->Apply(*next, "control") : next.status();
  if (!s.ok()) {
    spdlog::error("event=edge.snapshot_rejected version={} reason=\"{}\" serving={}",
                  snapshot->version(), std::string(s.message()), ServingVersion(*instance_));
    return s;
  }
  snapshot_ = std::move(snapshot);
  if (file_ != nullptr) {
    file_->Stop();  // no file to watch any more
    file_.reset();
  }
  if (s = WriteSnapshot(control_.state_dir, *snapshot_); !s.ok()) {
    spdlog::error("event=edge.snapshot_not_saved reason=\"{}\"", std::string(s.message()));
  }
  spdlog::info("event=edge.snapshot_applied version={} config_version={}", snapshot_->version(),
               ServingVersion(*instance_));
  return absl::OkStatus();
}

void ControlSource::Reload() {
  if (file_ != nullptr) {
    file_->Reload();
    return;
  }
  if (snapshot_ == nullptr || instance_ == nullptr) return;
  // The snapshot names files (certificates, keys) that may have changed on disk.
  absl::StatusOr<Loaded> next = LoadConfig({"", snapshot_}, options_.node, options_.files_dir);
  const absl::Status s = next.ok() ? instance_->Apply(*next, "sighup") : next.status();
  if (!s.ok()) {
    spdlog::error("event=edge.reload_rejected trigger=sighup reason=\"{}\" version={}",
                  std::string(s.message()), ServingVersion(*instance_));
  }
}

void ControlSource::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    // The client's thread may wait for an apply that the main loop, which runs this, would
    // never get to: answer it now, so that stopping the client below cannot wait on itself.
    for (const auto& call : pending_) call->Answer(absl::UnavailableError("the edge is stopping"));
  }
  if (client_ != nullptr) client_->Stop();
  if (file_ != nullptr) file_->Stop();
}

}  // namespace holdfast::edge
