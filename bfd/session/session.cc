#include "bfd/session/session.h"

#include <algorithm>
#include <utility>

namespace holdfast::bfd {
namespace {

// RFC 5880 section 6.8.3: "When bfd.SessionState is not Up, the system MUST set
// bfd.DesiredMinTxInterval to a value of not less than one second".
constexpr Micros kSlowTx{1'000'000};

uint32_t WireMicros(Micros d) {
  return static_cast<uint32_t>(std::clamp<int64_t>(d.count(), 0, UINT32_MAX));
}

}  // namespace

Session::Session(SessionConfig config)
    : config_(config), random_(static_cast<std::minstd_rand::result_type>(config.seed | 1)) {}

SessionStats Session::stats() const {
  SessionStats s = stats_;
  s.state = state_;
  s.remote_state = remote_state_;
  s.local_diagnostic = local_diagnostic_;
  s.remote_diagnostic = remote_diagnostic_;
  s.remote_discriminator = remote_discriminator_;
  s.transmit_interval = TransmitInterval();
  s.detection_time = DetectionTime();
  s.remote_desired_min_tx = remote_desired_min_tx_;
  s.remote_required_min_rx = remote_min_rx_;
  s.remote_detect_multiplier = remote_detect_multiplier_;
  return s;
}

std::vector<Action> Session::Start(TimePoint now) {
  std::vector<Action> out;
  if (state_ != SessionState::kAdminDown) return out;
  admin_down_until_.reset();
  SetState(now, out, SessionState::kDown, Diagnostic::kNone);
  return out;
}

std::vector<Action> Session::Stop(TimePoint now, Diagnostic diagnostic) {
  std::vector<Action> out;
  if (state_ == SessionState::kAdminDown) return out;
  // Section 6.8.16: AdminDown is sent until the peer must have noticed (a Detection Time of its
  // own, which we only know as ours mirrored; at the slow rate when nothing was negotiated).
  const Micros detection = DetectionTime();
  admin_down_until_ =
      now + (detection.count() > 0 ? detection : kSlowTx * config_.detect_multiplier);
  detection_deadline_.reset();
  polling_ = false;
  SetState(now, out, SessionState::kAdminDown, diagnostic);
  return out;
}

std::vector<Action> Session::OnPacket(TimePoint now, const ControlPacket& p) {
  std::vector<Action> out;
  ++stats_.packets_received;
  // Section 6.8.6: no authentication is in use here, so a packet that carries some is dropped;
  // a packet for another session or while AdminDown changes nothing.
  if (p.authentication.has_value() ||
      (p.your_discriminator != 0 && p.your_discriminator != config_.local_discriminator) ||
      state_ == SessionState::kAdminDown) {
    ++stats_.packets_dropped;
    return out;
  }
  remote_discriminator_ = p.my_discriminator;
  remote_state_ = p.state;
  remote_diagnostic_ = p.diagnostic;
  remote_demand_ = p.demand;
  remote_min_rx_ = Micros(p.required_min_rx_interval);
  remote_desired_min_tx_ = Micros(p.desired_min_tx_interval);
  remote_detect_multiplier_ = p.detect_multiplier;
  if (p.final) polling_ = false;
  detection_deadline_ = now + DetectionTime();

  if (p.state == SessionState::kAdminDown) {
    if (state_ != SessionState::kDown) {
      SetState(now, out, SessionState::kDown, Diagnostic::kNeighborSignaledSessionDown);
    }
  } else if (state_ == SessionState::kDown) {
    if (p.state == SessionState::kDown) {
      SetState(now, out, SessionState::kInit, Diagnostic::kNone);
    } else if (p.state == SessionState::kInit) {
      SetState(now, out, SessionState::kUp, Diagnostic::kNone);
    }
  } else if (state_ == SessionState::kInit) {
    if (p.state == SessionState::kInit || p.state == SessionState::kUp) {
      SetState(now, out, SessionState::kUp, Diagnostic::kNone);
    }
  } else if (p.state == SessionState::kDown) {  // Up
    SetState(now, out, SessionState::kDown, Diagnostic::kNeighborSignaledSessionDown);
  }

  // Section 6.8.7: a Poll is answered "as soon as practicable, without respect to the
  // transmission timer".
  if (p.poll) Send(out, /*final=*/true);
  // The peer may now take packets sooner (or, passive, we may speak at last).
  if (MayTransmit() && (!transmit_deadline_ || *transmit_deadline_ > now + TransmitInterval())) {
    if (!transmit_deadline_) Send(out, false);
    ScheduleTransmit(now);
  } else if (!MayTransmit()) {
    transmit_deadline_.reset();
  }
  return out;
}

std::vector<Action> Session::OnTimer(TimePoint now) {
  std::vector<Action> out;
  if (detection_deadline_ && *detection_deadline_ <= now) {
    detection_deadline_.reset();
    // Section 6.8.4; 6.8.1: bfd.RemoteDiscr "MUST be set to zero if the Detection Time expires".
    if (state_ == SessionState::kInit || state_ == SessionState::kUp) {
      remote_discriminator_ = 0;
      SetState(now, out, SessionState::kDown, Diagnostic::kControlDetectionTimeExpired);
    }
  }
  if (admin_down_until_ && *admin_down_until_ <= now) {
    admin_down_until_.reset();
    transmit_deadline_.reset();
  }
  if (transmit_deadline_ && *transmit_deadline_ <= now) {
    if (MayTransmit()) Send(out, false);
    ScheduleTransmit(now);
  }
  return out;
}

std::optional<TimePoint> Session::NextDeadline() const {
  std::optional<TimePoint> next;
  for (const std::optional<TimePoint>& d :
       {transmit_deadline_, detection_deadline_, admin_down_until_}) {
    if (d && (!next || *d < *next)) next = d;
  }
  return next;
}

Micros Session::DesiredMinTx() const {
  return state_ == SessionState::kUp ? config_.desired_min_tx
                                     : std::max(config_.desired_min_tx, kSlowTx);
}

Micros Session::TransmitInterval() const { return std::max(DesiredMinTx(), remote_min_rx_); }

Micros Session::DetectionTime() const {
  return remote_detect_multiplier_ * std::max(config_.required_min_rx, remote_desired_min_tx_);
}

bool Session::MayTransmit() const {
  if (state_ == SessionState::kAdminDown) return admin_down_until_.has_value();
  if (config_.passive && remote_discriminator_ == 0) return false;
  // Section 6.8.7: not while the peer asks for nothing, nor while it runs Demand mode and both
  // are Up.
  if (remote_min_rx_.count() == 0) return false;
  return !(remote_demand_ && state_ == SessionState::kUp && remote_state_ == SessionState::kUp);
}

ControlPacket Session::Packet(bool final) const {
  ControlPacket p;
  p.diagnostic = local_diagnostic_;
  p.state = state_;
  p.poll = polling_ && !final;
  p.final = final;
  p.detect_multiplier = config_.detect_multiplier;
  p.my_discriminator = config_.local_discriminator;
  p.your_discriminator = remote_discriminator_;
  p.desired_min_tx_interval = WireMicros(DesiredMinTx());
  p.required_min_rx_interval = WireMicros(config_.required_min_rx);
  p.required_min_echo_rx_interval = 0;  // no Echo function
  return p;
}

void Session::Send(std::vector<Action>& out, bool final) {
  ++stats_.packets_sent;
  out.push_back(Action{.kind = Action::Kind::kSend, .packet = Packet(final)});
}

void Session::ScheduleTransmit(TimePoint now) {
  if (!MayTransmit()) {
    transmit_deadline_.reset();
    return;
  }
  // Section 6.8.7: 0-25% less than the interval, and with Detect Mult 1 at most 90% of it.
  const int64_t interval = TransmitInterval().count();
  const int64_t high = config_.detect_multiplier == 1 ? interval * 9 / 10 : interval;
  std::uniform_int_distribution<int64_t> jitter(interval * 3 / 4, std::max(high, int64_t{1}));
  transmit_deadline_ = now + Micros(jitter(random_));
}

void Session::SetState(TimePoint now, std::vector<Action>& out, SessionState to, Diagnostic why) {
  const SessionState from = state_;
  if (from == to) return;
  const Micros desired_before = DesiredMinTx();
  state_ = to;
  local_diagnostic_ = why;
  if (to == SessionState::kUp) {
    stats_.up_since = now;
    ++stats_.up_transitions;
  }
  if (from == SessionState::kUp) {
    stats_.up_since.reset();
    stats_.last_down_diagnostic = why;
  }
  // Section 6.8.3: a changed Desired Min TX is announced with a Poll Sequence while Up; leaving
  // Up ends one under way (the peer goes down too and learns the slow rate from our packets).
  polling_ = to == SessionState::kUp && (polling_ || DesiredMinTx() != desired_before);
  Action change{.kind = Action::Kind::kStateChange};
  change.from = from;
  change.to = to;
  change.diagnostic = why;
  out.push_back(change);
  // The peer learns of the change now, not at the next tick.
  if (MayTransmit()) {
    Send(out, false);
    ScheduleTransmit(now);
  } else {
    transmit_deadline_.reset();
  }
}

}  // namespace holdfast::bfd
