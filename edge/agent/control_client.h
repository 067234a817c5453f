// The edge's side of EdgeSync: one stream to the control plane, kept open. It says hello with
// the version the node serves, hands every snapshot to `apply` and answers ACK or NACK with its
// outcome, hands every announcement plan to `on_plan`, and sends a health report at once when
// what it says changes (ReportChanged, looked at every kReportPoll) and at least every
// `heartbeat`; the last report, sent as the client stops, says whether the node is draining.
// When the stream ends or cannot be
// opened it tries again after a jittered, growing pause (0.5 s doubling to 30 s): a thousand
// edges that lost the control plane together do not come back in one wave. A pause after the
// connection was lost ends as soon as the channel connects again (its own reconnection backoff
// is jittered and capped at kMaxReconnect), so a restarted control plane has its edges back
// within seconds; a pause after a refusal on a live connection is waited out.
//
// The edge never depends on it: whatever happens to the stream, the node goes on serving what
// it serves (fail static). Threads: one reads the stream (and runs `apply`), one sends reports.
#ifndef HOLDFAST_EDGE_AGENT_CONTROL_CLIENT_H_
#define HOLDFAST_EDGE_AGENT_CONTROL_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "holdfast/v1/control.grpc.pb.h"

namespace holdfast::edge {

struct ControlClientOptions {
  // HOST:PORT of holdfast-control.
  std::string address;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string pop;
  std::string node;
  // The longest time between two reports when nothing changes.
  absl::Duration heartbeat = absl::Seconds(1);
};

class ControlClient {
 public:
  // Applies a snapshot and says how it went: OK (serving it) or why it was refused. Called on
  // the client's thread; may block until the edge has applied it.
  using Apply = std::function<absl::Status(const v1::ConfigSnapshot&)>;
  // The node's health now. Called on the client's reporting thread.
  using Report = std::function<v1::HealthReport()>;
  // A new announcement plan from the control plane. Called on the client's thread.
  using OnPlan = std::function<void(const v1::Plan&)>;

  // How often the node's health is looked at for a change worth reporting at once.
  static constexpr absl::Duration kReportPoll = absl::Milliseconds(100);
  // The channel's reconnection backoff: from 0.5 s growing (x1.6, +-20% jitter) to this.
  static constexpr absl::Duration kMaxReconnect = absl::Seconds(5);

  ControlClient(ControlClientOptions options, Apply apply, Report report, OnPlan on_plan);
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Starts both threads; `serving_version` goes in the first hello (0: none from the control
  // plane).
  void Start(uint64_t serving_version);
  // Sends a last report when connected (a draining node says so before its stream closes),
  // ends the stream and joins the threads.
  void Stop();

  bool connected() const { return connected_.load(); }

 private:
  void ReadLoop();
  void ReportLoop();
  // Writes one message on the current stream; false when there is none or it failed.
  bool Write(const v1::EdgeMessage& message);
  // Waits `d` unless stopped first; false when stopped.
  bool Sleep(absl::Duration d);
  // The pause before the next stream: `d`, or less when `channel` was not connected and
  // connects meanwhile. False when stopped.
  bool Pause(grpc::Channel& channel, absl::Duration d);

  const ControlClientOptions options_;
  const Apply apply_;
  const Report report_;
  const OnPlan on_plan_;
  std::atomic<uint64_t> serving_version_{0};
  std::atomic<bool> connected_{false};
  // Counts the streams that said hello: a new one gets a report at once.
  std::atomic<uint64_t> stream_generation_{0};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  // The open stream and its context, guarded by mu_ (Write and Stop use them from other
  // threads); writes are serialized under write_mu_.
  grpc::ClientContext* context_ = nullptr;
  grpc::ClientReaderWriter<v1::EdgeMessage, v1::ControlMessage>* stream_ = nullptr;
  std::mutex write_mu_;

  std::thread reader_;
  std::thread reporter_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_AGENT_CONTROL_CLIENT_H_
