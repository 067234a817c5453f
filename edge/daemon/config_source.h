// Where the edge's config comes from, delivered to its Instance. Two kinds:
// - FileSource: a config file and what it includes; SIGHUP or an edit of any of them reloads.
// - ControlSource: the control plane's EdgeSync stream (edge/agent/control_client.h). Every
//   snapshot is applied like a reload and answered ACK or NACK with the outcome; the last one
//   applied is kept on disk (--state-dir) to start from when the control plane cannot be
//   reached (fail static). Until its first snapshot it serves the --config file, if given, as a
//   FileSource would. Plans go to the Instance; the Instance's reports go back.
//
// Threads: Start, Reload and Stop run on the main loop, as do the calls into the Instance; the
// control client's own threads wait for the main loop to apply a snapshot, and Stop releases
// them first, so stopping never waits on itself.
#ifndef HOLDFAST_EDGE_DAEMON_CONFIG_SOURCE_H_
#define HOLDFAST_EDGE_DAEMON_CONFIG_SOURCE_H_

#include <grpcpp/grpcpp.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "edge/agent/control_client.h"
#include "edge/daemon/instance.h"
#include "edge/daemon/loader.h"

namespace holdfast::edge {

class ConfigSource {
 public:
  virtual ~ConfigSource() = default;
  // The config to serve first. nullopt: none yet, wait for the control plane's first snapshot.
  // An error (logged) means there is nothing the edge may serve: it exits.
  virtual absl::StatusOr<std::optional<Loaded>> First() = 0;
  // Delivers every later config to `instance` until Stop().
  virtual void Start(Instance& instance) = 0;
  // SIGHUP: loads again what is served now.
  virtual void Reload() = 0;
  virtual void Stop() = 0;
};

struct SourceOptions {
  std::string node;
  // A config file; for a ControlSource, what to serve until the control plane sends a config.
  std::string file;
  // Where a snapshot's relative file names (certificates, keys) are looked up.
  std::string files_dir;
};

class FileSource : public ConfigSource {
 public:
  FileSource(SourceOptions options, asio::io_context& main_loop);

  absl::StatusOr<std::optional<Loaded>> First() override;
  void Start(Instance& instance) override;
  void Reload() override { Load("sighup"); }
  void Stop() override;

 private:
  void Load(std::string_view trigger);
  void Poll();

  SourceOptions options_;
  Instance* instance_ = nullptr;
  // An edit is noticed by the files' modification times, looked at every second.
  asio::steady_timer poll_;
  std::vector<std::string> files_;
  std::vector<std::filesystem::file_time_type> stamps_;
};

struct ControlOptions {
  // HOST:PORT of holdfast-control.
  std::string address;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Where the last snapshot applied is kept.
  std::string state_dir;
  // The longest time between two health reports (ControlClientOptions::heartbeat).
  absl::Duration report_heartbeat = absl::Seconds(1);
};

class ControlSource : public ConfigSource {
 public:
  ControlSource(SourceOptions options, ControlOptions control, asio::io_context& main_loop);
  ~ControlSource() override;

  absl::StatusOr<std::optional<Loaded>> First() override;
  void Start(Instance& instance) override;
  void Reload() override;
  void Stop() override;

 private:
  struct PendingApply;

  // On the client's thread: has the main loop apply `snapshot`, and waits for the outcome.
  absl::Status ApplyFromClient(const v1::ConfigSnapshot& snapshot);
  // On the main loop.
  absl::Status ApplySnapshot(std::shared_ptr<const v1::ConfigSnapshot> snapshot);

  SourceOptions options_;
  ControlOptions control_;
  asio::io_context& main_loop_;
  Instance* instance_ = nullptr;
  // The snapshot served, if the config came from the control plane.
  std::shared_ptr<const v1::ConfigSnapshot> snapshot_;
  // Until the first snapshot: the --config file, if given.
  std::unique_ptr<FileSource> file_;
  std::unique_ptr<ControlClient> client_;

  std::mutex mu_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<PendingApply>> pending_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_DAEMON_CONFIG_SOURCE_H_
