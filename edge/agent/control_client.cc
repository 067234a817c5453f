#include "edge/agent/control_client.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <random>
#include <utility>

#include "edge/agent/report.h"
#include "policy/plan/planner.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {

ControlClient::ControlClient(ControlClientOptions options, Apply apply, Report report,
                             OnPlan on_plan)
    : options_(std::move(options)),
      apply_(std::move(apply)),
      report_(std::move(report)),
      on_plan_(std::move(on_plan)) {}

ControlClient::~ControlClient() { Stop(); }

void ControlClient::Start(uint64_t serving_version) {
  serving_version_ = serving_version;
  reader_ = std::thread([this] { ReadLoop(); });
  reporter_ = std::thread([this] { ReportLoop(); });
}

void ControlClient::Stop() {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    first = !stopping_;
  }
  // The last report, waited for a moment at most: a control plane that stopped reading must
  // not hold the drain. If the write is still blocked then, the cancel below ends it.
  std::future<void> last;
  if (first && connected_.load()) {
    last = std::async(std::launch::async, [this] {
      v1::EdgeMessage message;
      *message.mutable_report() = report_();
      Write(message);
    });
    last.wait_for(std::chrono::seconds(1));
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  wake_.notify_all();
  if (reader_.joinable()) reader_.join();
  if (reporter_.joinable()) reporter_.join();
}

bool ControlClient::Sleep(absl::Duration d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return stopping_; });
}

bool ControlClient::Pause(grpc::Channel& channel, absl::Duration d) {
  // Connected still: the control plane refused the stream; the whole pause, or it would be asked
  // again at once.
  if (channel.GetState(false) == GRPC_CHANNEL_READY) return Sleep(d);
  const absl::Time deadline = absl::Now() + d;
  for (absl::Time now = absl::Now(); now < deadline; now = absl::Now()) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;
    }
    // In slices, so that Stop() is not kept waiting.
    const absl::Time slice = std::min(deadline, now + absl::Milliseconds(100));
    if (channel.WaitForConnected(absl::ToChronoTime(slice))) break;
  }
  std::lock_guard lock(mu_);
  return !stopping_;
}

bool ControlClient::Write(const v1::EdgeMessage& message) {
  std::lock_guard write_lock(write_mu_);
  grpc::ClientReaderWriter<v1::EdgeMessage, v1::ControlMessage>* stream;
  {
    std::lock_guard lock(mu_);
    stream = stream_;
  }
  // A failed write ends nothing by itself: the read side sees the stream end and reconnects.
  return stream != nullptr && stream->Write(message);
}

void ControlClient::ReadLoop() {
  std::mt19937_64 random(std::random_device{}());
  absl::Duration backoff = absl::Milliseconds(500);
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 500);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                   static_cast<int>(absl::ToInt64Milliseconds(kMaxReconnect)));
  const std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options_.address, options_.credentials, arguments);
  const std::unique_ptr<v1::EdgeSync::Stub> stub = v1::EdgeSync::NewStub(channel);
  for (;;) {
    grpc::ClientContext context;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      context_ = &context;
    }
    std::unique_ptr<grpc::ClientReaderWriter<v1::EdgeMessage, v1::ControlMessage>> stream =
        stub->Sync(&context);
    {
      std::lock_guard lock(mu_);
      stream_ = stream.get();
    }
    v1::EdgeMessage hello;
    hello.mutable_hello()->set_pop(options_.pop);
    hello.mutable_hello()->set_node(options_.node);
    hello.mutable_hello()->set_version(serving_version_.load());
    if (Write(hello)) {
      connected_ = true;
      ++stream_generation_;
      backoff = absl::Milliseconds(500);
      spdlog::info("event=control.connected address={} serving_version={}", options_.address,
                   serving_version_.load());
    }

    v1::ControlMessage in;
    while (stream->Read(&in)) {
      if (in.has_plan()) {
        on_plan_(in.plan());
        continue;
      }
      if (!in.has_snapshot()) continue;  // a newer control plane's message
      const v1::ConfigSnapshot& snapshot = in.snapshot();
      const absl::Status applied = apply_(snapshot);
      v1::EdgeMessage answer;
      if (applied.ok()) {
        serving_version_ = snapshot.version();
        answer.mutable_ack()->set_version(snapshot.version());
        answer.mutable_ack()->set_nonce(snapshot.nonce());
      } else {
        answer.mutable_nack()->set_version(snapshot.version());
        answer.mutable_nack()->set_nonce(snapshot.nonce());
        answer.mutable_nack()->set_reason(std::string(applied.message()));
      }
      Write(answer);
    }
    {
      std::lock_guard lock(mu_);
      stream_ = nullptr;
      context_ = nullptr;
    }
    {
      std::lock_guard write_lock(write_mu_);  // no Write() is still using the stream
      const grpc::Status status = stream->Finish();
      if (connected_.exchange(false) || backoff == absl::Milliseconds(500)) {
        spdlog::warn("event=control.stream_ended address={} code={} reason=\"{}\" retry_ms={}",
                     options_.address, static_cast<int>(status.error_code()),
                     status.error_message(), absl::ToInt64Milliseconds(backoff));
      }
    }
    // Full jitter: anywhere up to the current backoff, at least a tenth of it.
    std::uniform_real_distribution<double> jitter(0.1, 1.0);
    if (!Pause(*channel, backoff * jitter(random))) return;
    backoff = std::min(backoff * 2, absl::Seconds(30));
  }
}

void ControlClient::ReportLoop() {
  v1::HealthReport last;
  uint64_t last_generation = 0;
  absl::Time last_sent = absl::InfinitePast();
  while (Sleep(kReportPoll)) {
    if (!connected_.load()) continue;
    v1::HealthReport next = report_();
    const absl::Time now = absl::Now();
    const uint64_t generation = stream_generation_.load();
    if (generation == last_generation && now - last_sent < options_.heartbeat &&
        !policy::ReportChanged(last, next)) {
      continue;
    }
    v1::EdgeMessage message;
    *message.mutable_report() = next;
    if (!Write(message)) continue;
    last = std::move(next);
    last_generation = generation;
    last_sent = now;
  }
}

}  // namespace holdfast::edge
