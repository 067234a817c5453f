#include "edge/bgp/announcer.h"

#include <asio/post.hpp>
#include <future>
#include <utility>

#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

// How many prefixes `next` adds, removes and announces with other attributes than `previous`.
struct Diff {
  size_t added = 0;
  size_t removed = 0;
  size_t changed = 0;
};

Diff Compare(const std::vector<bgp::Announcement>& previous,
             const std::vector<bgp::Announcement>& next) {
  Diff d;
  for (const bgp::Announcement& n : next) {
    bool found = false;
    for (const bgp::Announcement& p : previous) {
      if (p.prefix != n.prefix) continue;
      found = true;
      if (!SameAnnouncements({p}, {n})) ++d.changed;
    }
    if (!found) ++d.added;
  }
  for (const bgp::Announcement& p : previous) {
    bool found = false;
    for (const bgp::Announcement& n : next) found |= p.prefix == n.prefix;
    if (!found) ++d.removed;
  }
  return d;
}

}  // namespace

std::string_view PhaseName(BgpAnnouncer::Phase phase) {
  switch (phase) {
    case BgpAnnouncer::Phase::kIdle:
      return "idle";
    case BgpAnnouncer::Phase::kAnnouncing:
      return "announcing";
    case BgpAnnouncer::Phase::kDraining:
      return "draining";
    case BgpAnnouncer::Phase::kWithdrawn:
      return "withdrawn";
    case BgpAnnouncer::Phase::kStopped:
      return "stopped";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<BgpAnnouncer>> BgpAnnouncer::Create(
    std::shared_ptr<const BgpConfig> config) {
  std::unique_ptr<BgpAnnouncer> a(new BgpAnnouncer(config));
  absl::StatusOr<std::unique_ptr<bgp::Speaker>> speaker =
      bgp::Speaker::Create(a->io_, config->speaker);
  if (!speaker.ok()) return speaker.status();
  a->speaker_ = *std::move(speaker);
  return a;
}

BgpAnnouncer::BgpAnnouncer(std::shared_ptr<const BgpConfig> config) {
  view_.config = std::move(config);
}

BgpAnnouncer::~BgpAnnouncer() {
  // BFD first: its callback posts to the speaker.
  StopBfd();
  // The speaker may only go while its io_context does not run (speaker.h).
  io_.stop();
  if (thread_.joinable()) thread_.join();
  speaker_.reset();
}

absl::Status BgpAnnouncer::Start(std::string_view version) {
  if (const absl::Status s = speaker_->Start(); !s.ok()) return s;
  if (const absl::Status s = StartBfd(); !s.ok()) return s;
  std::vector<bgp::Announcement> announced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    view_.announced = view_.config->announcements;
    view_.phase = Phase::kAnnouncing;
    announced = view_.announced;
  }
  spdlog::info("event=bgp.announce version={} prefixes={} added={} removed=0 changed=0", version,
               announced.size(), announced.size());
  speaker_->SetAnnouncements(std::move(announced));
  thread_ = std::thread([this] { io_.run(); });
  return absl::OkStatus();
}

void BgpAnnouncer::Update(std::shared_ptr<const BgpConfig> next, std::string_view version) {
  std::vector<bgp::Announcement> announced;
  Diff d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    view_.config = next;
    // Once draining, the node is on its way out: a late snapshot must not announce again.
    if (view_.phase != Phase::kAnnouncing) return;
    if (SameAnnouncements(view_.announced, next->announcements)) return;
    d = Compare(view_.announced, next->announcements);
    view_.announced = next->announcements;
    announced = view_.announced;
  }
  spdlog::info("event=bgp.announce version={} prefixes={} added={} removed={} changed={}", version,
               announced.size(), d.added, d.removed, d.changed);
  speaker_->SetAnnouncements(std::move(announced));
}

void BgpAnnouncer::Drain(uint32_t extra_prepend) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    view_.phase = Phase::kDraining;
    view_.drain_prepend = extra_prepend;
  }
  speaker_->Drain({extra_prepend});  // logs event=bgp.drain
  Sync();
}

void BgpAnnouncer::WithdrawAll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    view_.phase = Phase::kWithdrawn;
    view_.announced.clear();
  }
  speaker_->WithdrawAll();  // logs event=bgp.withdraw_all
  Sync();
}

void BgpAnnouncer::Sync() {
  if (!thread_.joinable()) return;
  // The speaker's loop runs what was posted in order: once this runs, so did the call before.
  auto reached = std::make_shared<std::promise<void>>();
  std::future<void> done = reached->get_future();
  asio::post(io_, [reached] { reached->set_value(); });
  done.wait_for(std::chrono::seconds(1));
}

absl::Status BgpAnnouncer::StartBfd() {
  std::shared_ptr<const BgpConfig> config = view().config;
  if (config->bfd.empty()) return absl::OkStatus();
  // RFC 5882 section 4.3: BFD down takes the BGP session down at once (the router, running BFD
  // too, has taken our routes away already); it comes back by the connect retry.
  absl::StatusOr<std::unique_ptr<bfd::Speaker>> created = bfd::Speaker::Create(
      [speaker = speaker_.get()](const bfd::PeerConfig& peer, const bfd::StateChange& change) {
        if (change.from == bfd::SessionState::kUp && change.to == bfd::SessionState::kDown) {
          speaker->ResetPeer(peer.peer,
                             std::string("bfd_down: ") + bfd::DiagnosticName(change.diagnostic));
        }
      });
  if (!created.ok()) return created.status();
  for (const bfd::PeerConfig& peer : config->bfd) {
    if (const absl::Status s = (*created)->Add(peer); !s.ok()) return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  bfd_ = *std::move(created);
  return absl::OkStatus();
}

void BgpAnnouncer::StopBfd() {
  std::unique_ptr<bfd::Speaker> bfd;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bfd = std::move(bfd_);
  }
  bfd.reset();  // AdminDown to every peer (RFC 5880 section 6.8.16): not a failure to it
}

std::vector<bfd::PeerStatus> BgpAnnouncer::BfdStatus() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bfd_ == nullptr ? std::vector<bfd::PeerStatus>() : bfd_->Status();
}

bool BgpAnnouncer::Stop(std::chrono::milliseconds timeout) {
  auto written = std::make_shared<std::promise<void>>();
  std::future<void> done = written->get_future();
  speaker_->Stop([written] { written->set_value(); });  // logs event=bgp.stopped
  const bool in_time = !thread_.joinable() || done.wait_for(timeout) == std::future_status::ready;
  if (!in_time) {
    spdlog::warn("event=bgp.stop_timeout timeout_ms={} reason=\"NOTIFICATION not written\"",
                 timeout.count());
  }
  io_.stop();
  if (thread_.joinable()) thread_.join();
  // After the Cease: the router takes the routes away for that, not for BFD.
  StopBfd();
  std::lock_guard<std::mutex> lock(mu_);
  view_.phase = Phase::kStopped;
  view_.announced.clear();
  return in_time;
}

size_t BgpAnnouncer::Established() const {
  size_t n = 0;
  for (const bgp::PeerStatus& p : speaker_->Status()) n += p.state == bgp::State::kEstablished;
  return n;
}

BgpAnnouncer::View BgpAnnouncer::view() const {
  std::lock_guard<std::mutex> lock(mu_);
  return view_;
}

}  // namespace holdfast::edge
