#include "bgp/session/session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace holdfast::bgp {

namespace {

// RFC 4271 section 8.2.2: the hold timer while waiting for the peer's OPEN, "a large value";
// 4 minutes is the suggested one.
constexpr std::chrono::seconds kOpenHoldTime{240};

// More prepends than this make a path no router prefers anyway; the config allows 10, a drain
// adds a few.
constexpr uint32_t kMaxPrepend = 32;

Afi FamilyAfi(AfiSafi f) { return f.afi == 2 ? Afi::kIpv6 : Afi::kIpv4; }
AfiSafi FamilyOf(const Prefix& p) { return p.afi == Afi::kIpv4 ? kIpv4Unicast : kIpv6Unicast; }

// The announcement fields WireAttributes reads, equal: then so are the attributes.
bool SameAttributeInputs(const Announcement& a, const Announcement& b) {
  return a.prefix.afi == b.prefix.afi && a.next_hop == b.next_hop &&
         a.ipv6_link_local == b.ipv6_link_local && a.origin == b.origin &&
         a.as_path_prepend == b.as_path_prepend && a.med == b.med && a.local_pref == b.local_pref &&
         a.communities == b.communities && a.large_communities == b.large_communities;
}

}  // namespace

const char* StateName(State s) {
  switch (s) {
    case State::kIdle:
      return "idle";
    case State::kConnect:
      return "connect";
    case State::kActive:
      return "active";
    case State::kOpenSent:
      return "open_sent";
    case State::kOpenConfirm:
      return "open_confirm";
    case State::kEstablished:
      return "established";
  }
  return "unknown";
}

Session::Session(SessionConfig config) : config_(std::move(config)) {}

SessionStats Session::stats() const {
  SessionStats s = stats_;
  s.state = conn_.state;
  s.prefixes_sent = advertised_.size();
  s.prefixes_received = rib_in_.size();
  // Routes are stale only while one of the two RFC 4724 timers runs; the count walks the whole
  // Adj-RIB-In, so it is skipped otherwise (the speaker reads stats after every event).
  if (restart_deadline_ || stale_deadline_) {
    s.prefixes_stale = static_cast<size_t>(std::count_if(
        rib_in_.begin(), rib_in_.end(), [](const auto& r) { return r.second.stale; }));
  }
  s.peer_bgp_id = remote_bgp_id();
  s.negotiated_hold_time = conn_.hold_time;
  s.initiated_locally = conn_.initiated_locally;
  s.four_octet_as = conn_.codec.four_octet_as && conn_.peer_open.has_value();
  s.peer_graceful_restart = peer_gr_.has_value();
  return s;
}

std::vector<Action> Session::Start(TimePoint now) {
  std::vector<Action> out;
  stopped_ = false;
  idle_hold_deadline_.reset();
  if (conn_.state != State::kIdle) return out;
  if (config_.passive) {
    conn_.state = State::kActive;
    return out;
  }
  conn_.state = State::kConnect;
  connect_retry_deadline_ = now + config_.connect_retry;
  out.push_back({Action::Kind::kConnect, {}, {}});
  return out;
}

std::vector<Action> Session::Stop(TimePoint now, uint8_t subcode) {
  std::vector<Action> out;
  stopped_ = true;
  connect_retry_deadline_.reset();
  idle_hold_deadline_.reset();
  if (conn_.state >= State::kOpenSent) {
    // RFC 4486 section 4: Cease with Administrative Shutdown on a manual stop.
    NotificationMessage n{kCease, subcode, {}};
    Fail(now, out, n, "stopped");
  } else {
    if (conn_.state == State::kConnect) out.push_back({Action::Kind::kClose, {}, {}});
    conn_ = Connection{};
  }
  // We ended the session ourselves: nothing of the peer's is kept (RFC 4724 applies to the
  // peer restarting, not to us leaving).
  rib_in_.clear();
  restart_deadline_.reset();
  stale_deadline_.reset();
  return out;
}

std::vector<Action> Session::OnConnected(TimePoint now, bool initiated_locally) {
  std::vector<Action> out;
  if (conn_.state != State::kConnect && conn_.state != State::kActive) return out;
  conn_ = Connection{};
  conn_.state = State::kOpenSent;
  conn_.initiated_locally = initiated_locally;
  conn_.hold_deadline = now + kOpenHoldTime;
  connect_retry_deadline_.reset();
  SendOpen(out);
  return out;
}

std::vector<Action> Session::OnConnectionLost(TimePoint now, const std::string& why) {
  std::vector<Action> out;
  switch (conn_.state) {
    case State::kConnect:
      // RFC 4271 section 8.2.2 (Connect, event 18): wait in Active for the retry timer.
      conn_.state = State::kActive;
      break;
    case State::kOpenSent:
    case State::kOpenConfirm:
    case State::kEstablished:
      // A TCP failure without NOTIFICATION is what RFC 4724 section 4.2 keeps routes for.
      Down(now, out, absl::StrCat("connection_lost: ", why), true);
      break;
    default:
      break;
  }
  return out;
}

std::vector<Action> Session::OnBytes(TimePoint now, std::span<const uint8_t> bytes) {
  std::vector<Action> out;
  if (conn_.state < State::kOpenSent) return out;
  conn_.buffer.insert(conn_.buffer.end(), bytes.begin(), bytes.end());
  size_t offset = 0;
  while (conn_.state >= State::kOpenSent) {
    std::span<const uint8_t> rest = std::span(conn_.buffer).subspan(offset);
    absl::StatusOr<size_t> len = FrameLength(rest);
    if (!len.ok()) {
      Fail(now, out, *NotificationFromStatus(len.status()), std::string(len.status().message()));
      return out;
    }
    if (*len == 0 || *len > rest.size()) break;
    absl::StatusOr<DecodedMessage> m = DecodeMessage(rest.first(*len), conn_.codec);
    offset += *len;
    if (!m.ok()) {
      std::optional<NotificationMessage> n = NotificationFromStatus(m.status());
      Fail(now, out, n ? *n : NotificationMessage{kMessageHeaderError, 0, {}},
           std::string(m.status().message()));
      return out;
    }
    HandleMessage(now, out, *std::move(m));
  }
  // A handler that ended the connection replaced the buffer; only a live one is trimmed.
  if (conn_.state >= State::kOpenSent) {
    conn_.buffer.erase(conn_.buffer.begin(),
                       conn_.buffer.begin() + static_cast<std::ptrdiff_t>(offset));
  }
  return out;
}

std::vector<Action> Session::OnTimer(TimePoint now) {
  std::vector<Action> out;
  if (connect_retry_deadline_ && *connect_retry_deadline_ <= now) {
    connect_retry_deadline_.reset();
    // RFC 4271 section 8.2.2, ConnectRetryTimer_Expires (event 9) in Connect or Active.
    if (!stopped_ && !config_.passive &&
        (conn_.state == State::kConnect || conn_.state == State::kActive)) {
      conn_.state = State::kConnect;
      connect_retry_deadline_ = now + config_.connect_retry;
      out.push_back({Action::Kind::kConnect, {}, {}});
    }
  }
  if (idle_hold_deadline_ && *idle_hold_deadline_ <= now) {
    idle_hold_deadline_.reset();
    // The idle hold after Maximum Number of Prefixes Reached is over: start again.
    if (!stopped_ && conn_.state == State::kIdle) {
      if (config_.passive) {
        conn_.state = State::kActive;
      } else {
        conn_.state = State::kConnect;
        connect_retry_deadline_ = now + config_.connect_retry;
        out.push_back({Action::Kind::kConnect, {}, {}});
      }
    }
  }
  if (conn_.hold_deadline && *conn_.hold_deadline <= now && conn_.state >= State::kOpenSent) {
    // Section 6.5: Hold Timer Expired, no subcode.
    Fail(now, out, {kHoldTimerExpired, 0, {}}, "hold_timer_expired");
  }
  if (conn_.keepalive_deadline && *conn_.keepalive_deadline <= now &&
      conn_.state >= State::kOpenConfirm) {
    Send(out, KeepaliveMessage{});
    conn_.keepalive_deadline = now + std::chrono::milliseconds(conn_.hold_time * 1000 / 3);
  }
  if (restart_deadline_ && *restart_deadline_ <= now) {
    // RFC 4724 section 4.2: the peer did not come back within its Restart Time.
    restart_deadline_.reset();
    FlushStale(std::nullopt);
  }
  if (stale_deadline_ && *stale_deadline_ <= now) {
    // RFC 4724 section 4.2: End-of-RIB did not arrive in time; stale routes go.
    stale_deadline_.reset();
    FlushStale(std::nullopt);
  }
  return out;
}

std::optional<TimePoint> Session::NextDeadline() const {
  std::optional<TimePoint> next;
  for (const std::optional<TimePoint>& d :
       {connect_retry_deadline_, idle_hold_deadline_, conn_.hold_deadline, conn_.keepalive_deadline,
        restart_deadline_, stale_deadline_}) {
    if (d && (!next || *d < *next)) next = d;
  }
  return next;
}

std::vector<Action> Session::DropForCollision(TimePoint) {
  std::vector<Action> out;
  NotificationMessage n{kCease, kConnectionCollisionResolution, {}};
  Send(out, n);
  stats_.last_notification_sent = n;
  ++stats_.notifications_sent;
  out.push_back({Action::Kind::kClose, {}, {}});
  out.push_back({Action::Kind::kDown, {}, "connection_collision_resolution"});
  conn_ = Connection{};
  conn_.state = State::kActive;
  return out;
}

void Session::AdoptConnection(TimePoint now, Session&& candidate) {
  conn_ = std::move(candidate.conn_);
  peer_gr_ = std::move(candidate.peer_gr_);
  connect_retry_deadline_.reset();
  PeerOpened(now);
}

std::vector<Action> Session::SetAnnouncements(TimePoint, const std::vector<Announcement>& desired) {
  std::vector<Action> out;
  RibOut next;
  next.reserve(desired.size());
  // Equal attributes share one object, kept from the previous set when it had them: the diff then
  // compares pointers, and groups prefixes per object into as few UPDATEs as possible. Callers
  // list many prefixes with the same attributes in a row, so the last one is tried first.
  absl::flat_hash_map<PathAttributes, std::shared_ptr<const PathAttributes>> interned;
  const Announcement* previous = nullptr;
  std::shared_ptr<const PathAttributes> attrs;
  for (const Announcement& a : desired) {
    if (a.as_path_prepend > kMaxPrepend) {
      out.push_back({Action::Kind::kUpdateError,
                     {},
                     absl::StrCat("announcement ", a.prefix.ToString(), " prepends ",
                                  a.as_path_prepend, " times, over ", kMaxPrepend)});
      continue;
    }
    if (a.next_hop.is_v4() != (a.prefix.afi == Afi::kIpv4) ||
        (a.ipv6_link_local && a.ipv6_link_local->is_v4())) {
      // RFC 4760 section 3: the next hop belongs to the NLRI's family; such a route cannot be
      // encoded, so it is refused here rather than half-announced.
      out.push_back({Action::Kind::kUpdateError,
                     {},
                     absl::StrCat("announcement ", a.prefix.ToString(), " has next hop ",
                                  a.next_hop.ToString(), " of another family")});
      continue;
    }
    if (previous == nullptr || !SameAttributeInputs(*previous, a)) {
      PathAttributes wire = WireAttributes(a);
      auto it = interned.find(wire);
      if (it == interned.end()) {
        auto old = interned_.find(wire);
        std::shared_ptr<const PathAttributes> object =
            old != interned_.end() ? old->second : std::make_shared<const PathAttributes>(wire);
        it = interned.emplace(std::move(wire), std::move(object)).first;
      }
      attrs = it->second;
      previous = &a;
    }
    next.emplace_back(a.prefix, attrs);
  }
  const auto by_prefix = [](const auto& x, const auto& y) { return x.first < y.first; };
  if (!std::is_sorted(next.begin(), next.end(), by_prefix)) {
    std::stable_sort(next.begin(), next.end(), by_prefix);
  }
  // Of equal prefixes (now adjacent, in the caller's order) the last one stays.
  size_t kept = 0;
  for (size_t i = 0; i < next.size(); ++i) {
    if (i + 1 < next.size() && next[i].first == next[i + 1].first) continue;
    if (kept != i) next[kept] = std::move(next[i]);
    ++kept;
  }
  next.resize(kept);
  desired_ = std::move(next);
  interned_ = std::move(interned);
  if (conn_.state == State::kEstablished) SendDiff(out, false, std::nullopt);
  return out;
}

PathAttributes Session::WireAttributes(const Announcement& a) const {
  PathAttributes p;
  p.origin = a.origin;
  // RFC 4271 section 5.1.2: to an external peer our ASN leads the path; to an internal peer
  // the path is empty. Prepends are extra copies of our ASN.
  const uint32_t copies = (config_.ebgp() ? 1 : 0) + a.as_path_prepend;
  std::vector<AsPathSegment> path;
  if (copies > 0)
    path.push_back({AsPathSegment::kAsSequence, std::vector<uint32_t>(copies, config_.local_asn)});
  p.as_path = std::move(path);
  if (a.prefix.afi == Afi::kIpv4) {
    p.next_hop = a.next_hop;
  } else {
    p.ipv6_next_hop = a.next_hop;
    p.ipv6_link_local = a.ipv6_link_local;
  }
  p.med = a.med;
  // Section 5.1.5: LOCAL_PREF goes to internal peers only.
  if (!config_.ebgp()) p.local_pref = a.local_pref.value_or(100);
  p.communities = a.communities;
  p.large_communities = a.large_communities;
  return p;
}

void Session::SendOpen(std::vector<Action>& out) {
  OpenMessage open;
  // RFC 6793 section 4.1: AS_TRANS in the 2-octet field when the ASN needs 4 octets.
  open.my_as = config_.local_asn > 0xffff ? kAsTrans : static_cast<uint16_t>(config_.local_asn);
  open.hold_time = config_.hold_time;
  open.bgp_id = config_.router_id;
  Capabilities& c = open.capabilities;
  c.multiprotocol = config_.families;
  c.route_refresh = true;
  c.four_octet_as = config_.local_asn;
  if (config_.graceful_restart.enabled) {
    GracefulRestartCapability gr;
    gr.restarting = config_.graceful_restart.restarting;
    gr.restart_time = std::min<uint16_t>(config_.graceful_restart.restart_time, 0x0fff);
    for (const AfiSafi& f : config_.families) {
      gr.families.push_back({f, config_.graceful_restart.forwarding_preserved});
    }
    c.graceful_restart = std::move(gr);
  }
  Send(out, open);
}

void Session::Send(std::vector<Action>& out, const Message& m) {
  absl::StatusOr<std::vector<uint8_t>> bytes = EncodeMessage(m, conn_.codec);
  if (!bytes.ok()) {
    out.push_back({Action::Kind::kUpdateError, {}, std::string(bytes.status().message())});
    return;
  }
  out.push_back({Action::Kind::kSend, *std::move(bytes), {}});
}

void Session::Fail(TimePoint now, std::vector<Action>& out, NotificationMessage n,
                   const std::string& why) {
  Send(out, n);
  stats_.last_notification_sent = n;
  ++stats_.notifications_sent;
  Down(now, out, absl::StrCat(why, " notification_sent ", Describe(n)), false);
}

void Session::Down(TimePoint now, std::vector<Action>& out, const std::string& why,
                   bool keep_stale) {
  const bool was_established = conn_.state == State::kEstablished;
  if (was_established) {
    stats_.established_since.reset();
    const uint16_t restart_time = peer_gr_ ? peer_gr_->restart_time : 0;
    if (keep_stale && peer_gr_ && restart_time > 0) {
      // RFC 4724 section 4.2: keep the peer's routes, marked stale, for its Restart Time.
      for (auto& [prefix, route] : rib_in_) route.stale = true;
      restart_deadline_ = now + std::chrono::seconds(restart_time);
      stale_deadline_.reset();
    } else {
      rib_in_.clear();
      restart_deadline_.reset();
      stale_deadline_.reset();
    }
  } else if (!keep_stale) {
    rib_in_.clear();
    restart_deadline_.reset();
    stale_deadline_.reset();
  }
  advertised_.clear();
  conn_ = Connection{};
  conn_.state = stopped_ ? State::kIdle : State::kActive;
  if (!stopped_ && !config_.passive) connect_retry_deadline_ = now + config_.connect_retry;
  stats_.last_error = why;
  out.push_back({Action::Kind::kClose, {}, {}});
  out.push_back({Action::Kind::kDown, {}, why});
}

void Session::HandleMessage(TimePoint now, std::vector<Action>& out, DecodedMessage m) {
  if (auto* n = std::get_if<NotificationMessage>(&m.message)) {
    stats_.last_notification_received = *n;
    ++stats_.notifications_received;
    Down(now, out, absl::StrCat("notification_received ", Describe(*n)), false);
    return;
  }
  switch (conn_.state) {
    case State::kOpenSent:
      if (auto* open = std::get_if<OpenMessage>(&m.message)) {
        HandleOpen(now, out, *open);
      } else {
        Fail(now, out, {kFsmError, kUnexpectedInOpenSent, {}}, "unexpected_message");
      }
      return;
    case State::kOpenConfirm:
      if (std::holds_alternative<KeepaliveMessage>(m.message)) {
        Establish(now, out);
      } else {
        Fail(now, out, {kFsmError, kUnexpectedInOpenConfirm, {}}, "unexpected_message");
      }
      return;
    case State::kEstablished:
      if (std::holds_alternative<KeepaliveMessage>(m.message)) {
        RestartHold(now);
      } else if (std::holds_alternative<UpdateMessage>(m.message)) {
        HandleUpdate(now, out, m);
      } else if (auto* rr = std::get_if<RouteRefreshMessage>(&m.message)) {
        // RFC 2918 section 4: send the Adj-RIB-Out of that family again.
        if (std::find(conn_.families.begin(), conn_.families.end(), rr->afi_safi) !=
            conn_.families.end()) {
          SendDiff(out, true, rr->afi_safi);
        }
      } else {
        Fail(now, out, {kFsmError, kUnexpectedInEstablished, {}}, "unexpected_message");
      }
      return;
    default:
      return;
  }
}

void Session::HandleOpen(TimePoint now, std::vector<Action>& out, const OpenMessage& open) {
  // RFC 4271 section 6.2: the peer's ASN must be the one configured.
  if (open.asn() != config_.peer_asn) {
    Fail(now, out, {kOpenMessageError, kBadPeerAs, {}},
         absl::StrCat("peer_asn ", open.asn(), " expected ", config_.peer_asn));
    return;
  }
  // RFC 6286 section 2.1: identifiers must differ within an AS.
  if (!config_.ebgp() && open.bgp_id == config_.router_id) {
    Fail(now, out, {kOpenMessageError, kBadBgpIdentifier, {}}, "bgp_identifier is ours");
    return;
  }
  conn_.peer_open = open;
  // Section 4.2: the hold time is the smaller of the two; 0 means no keepalives at all.
  conn_.hold_time = std::min(config_.hold_time, open.hold_time);
  conn_.codec.four_octet_as = open.capabilities.four_octet_as.has_value();
  conn_.codec.ebgp = config_.ebgp();
  conn_.families.clear();
  for (const AfiSafi& f : config_.families) {
    // RFC 4760 section 8: without multiprotocol capabilities only IPv4 unicast is exchanged.
    const bool peer_has =
        open.capabilities.multiprotocol.empty() ? f == kIpv4Unicast : open.capabilities.Supports(f);
    if (peer_has) conn_.families.push_back(f);
  }
  peer_gr_.reset();
  if (config_.graceful_restart.enabled) peer_gr_ = open.capabilities.graceful_restart;
  PeerOpened(now);
  Send(out, KeepaliveMessage{});
  conn_.state = State::kOpenConfirm;
  conn_.hold_deadline.reset();
  conn_.keepalive_deadline.reset();
  if (conn_.hold_time > 0) {
    conn_.hold_deadline = now + std::chrono::seconds(conn_.hold_time);
    conn_.keepalive_deadline = now + std::chrono::milliseconds(conn_.hold_time * 1000 / 3);
  }
}

void Session::PeerOpened(TimePoint now) {
  // RFC 4724 section 4.2: the restarting peer is back. Stale routes of a family it no longer
  // preserves forwarding state for (or no longer does graceful restart for) go now; the rest
  // wait for its End-of-RIB.
  restart_deadline_.reset();
  bool any_stale = false;
  for (const AfiSafi f : {kIpv4Unicast, kIpv6Unicast}) {
    bool keep = false;
    if (peer_gr_) {
      for (const auto& pf : peer_gr_->families) {
        keep = keep || (pf.afi_safi == f && pf.forwarding_preserved);
      }
    }
    if (!keep) {
      FlushStale(f);
    } else {
      for (const auto& [prefix, route] : rib_in_) {
        any_stale = any_stale || (route.stale && FamilyOf(prefix) == f);
      }
    }
  }
  if (any_stale) stale_deadline_ = now + config_.graceful_restart.stale_time;
}

void Session::Establish(TimePoint now, std::vector<Action>& out) {
  conn_.state = State::kEstablished;
  stats_.established_since = now;
  ++stats_.established_transitions;
  RestartHold(now);
  out.push_back({Action::Kind::kEstablished, {}, {}});
  SendDiff(out, true, std::nullopt);
  // RFC 4724 section 4.1: End-of-RIB after the initial routes, per family. Peers without
  // graceful restart ignore it as an empty UPDATE.
  for (const AfiSafi& f : conn_.families) {
    UpdateMessage eor;
    eor.end_of_rib = f;
    Send(out, eor);
  }
  // The restart is over once our routes and End-of-RIB are out: a later connection of this
  // process is no restart, and its OPEN must not say so.
  config_.graceful_restart.restarting = false;
}

void Session::HandleUpdate(TimePoint now, std::vector<Action>& out, const DecodedMessage& m) {
  ++stats_.updates_received;
  RestartHold(now);
  if (m.action != UpdateAction::kOk) {
    out.push_back({Action::Kind::kUpdateError,
                   {},
                   absl::StrCat(m.action == UpdateAction::kTreatAsWithdraw ? "treat_as_withdraw: "
                                                                           : "attribute_discard: ",
                                m.reason)});
  }
  const UpdateMessage& u = std::get<UpdateMessage>(m.message);
  if (u.end_of_rib) {
    FlushStale(*u.end_of_rib);
    const bool any_stale =
        std::any_of(rib_in_.begin(), rib_in_.end(), [](const auto& r) { return r.second.stale; });
    if (!any_stale) stale_deadline_.reset();
    return;
  }
  for (const Prefix& p : u.withdrawn) rib_in_.erase(p);
  if (u.announced.empty()) return;
  auto attrs = std::make_shared<const PathAttributes>(u.attributes);
  for (const Prefix& p : u.announced) {
    // RFC 4760 section 7: routes of a family that was not negotiated are ignored.
    if (!Negotiated(p.afi)) continue;
    if (!config_.max_prefixes_teardown && config_.max_prefixes != 0 &&
        rib_in_.size() >= config_.max_prefixes && !rib_in_.contains(p)) {
      ++stats_.prefixes_over_limit;
      if (!conn_.over_limit_reported) {
        conn_.over_limit_reported = true;
        out.push_back({Action::Kind::kUpdateError,
                       {},
                       absl::StrCat("max_prefixes_reached limit=", config_.max_prefixes,
                                    ": further new prefixes from the peer are not kept")});
      }
      continue;
    }
    rib_in_[p] = ReceivedRoute{attrs, false};
    if (OverMaxPrefixes(now, out, FamilyOf(p))) return;
  }
}

bool Session::OverMaxPrefixes(TimePoint now, std::vector<Action>& out, AfiSafi family) {
  if (config_.max_prefixes == 0 || rib_in_.size() <= config_.max_prefixes) return false;
  // RFC 4486 section 4: Cease / Maximum Number of Prefixes Reached, with the AFI (2 octets),
  // SAFI (1) and the upper bound (4) as data. The limit spans both families; the family named is
  // that of the prefix that went over it.
  const uint32_t limit = config_.max_prefixes;
  NotificationMessage n{
      kCease,
      kMaxPrefixesReached,
      {static_cast<uint8_t>(family.afi >> 8), static_cast<uint8_t>(family.afi), family.safi,
       static_cast<uint8_t>(limit >> 24), static_cast<uint8_t>(limit >> 16),
       static_cast<uint8_t>(limit >> 8), static_cast<uint8_t>(limit)}};
  // Fail drops the peer's routes (a NOTIFICATION ends graceful restart too, RFC 4724 section 4).
  Fail(now, out, n,
       absl::StrCat("max_prefixes_reached limit=", limit,
                    " family=", family == kIpv4Unicast ? "ipv4_unicast" : "ipv6_unicast"));
  // Not straight back: a peer that sent too many will likely do it again. Idle, refusing its
  // connections and not connecting, until the idle hold ends.
  if (!stopped_) {
    conn_.state = State::kIdle;
    connect_retry_deadline_.reset();
    idle_hold_deadline_ = now + std::max(config_.max_prefixes_idle_hold, config_.connect_retry);
  }
  return true;
}

void Session::RestartHold(TimePoint now) {
  if (conn_.hold_time > 0) conn_.hold_deadline = now + std::chrono::seconds(conn_.hold_time);
}

void Session::FlushStale(std::optional<AfiSafi> family) {
  absl::erase_if(rib_in_, [&](const auto& r) {
    return r.second.stale && (!family || FamilyOf(r.first) == *family);
  });
}

bool Session::Negotiated(Afi afi) const {
  return std::any_of(conn_.families.begin(), conn_.families.end(),
                     [&](const AfiSafi& f) { return FamilyAfi(f) == afi; });
}

void Session::SendDiff(std::vector<Action>& out, bool full, std::optional<AfiSafi> only) {
  auto in_scope = [&](const Prefix& p) {
    return Negotiated(p.afi) && (!only || FamilyOf(p) == *only);
  };
  // One pass over the two sorted lists (desired_ and advertised_): what is advertised and no
  // longer desired is withdrawn; what is desired and in scope goes out when it is new, its
  // attributes changed, or everything is sent again (`full`). Each list stays sorted, so the
  // prefixes of every group come out sorted too.
  std::vector<Prefix> withdrawn;
  std::vector<std::pair<std::shared_ptr<const PathAttributes>, std::vector<Prefix>>> groups;
  absl::flat_hash_map<const PathAttributes*, size_t> group_of;
  size_t last_group = 0;
  auto announce = [&](const Prefix& p, const std::shared_ptr<const PathAttributes>& attrs) {
    if (groups.empty() || groups[last_group].first != attrs) {
      auto [it, added] = group_of.try_emplace(attrs.get(), groups.size());
      if (added) groups.emplace_back(attrs, std::vector<Prefix>{});
      last_group = it->second;
    }
    groups[last_group].second.push_back(p);
  };
  RibOut next;
  next.reserve(std::max(desired_.size(), advertised_.size()));
  auto d = desired_.begin();
  auto s = advertised_.begin();
  while (d != desired_.end() || s != advertised_.end()) {
    if (s == advertised_.end() || (d != desired_.end() && d->first < s->first)) {
      if (in_scope(d->first)) {
        announce(d->first, d->second);
        next.push_back(*d);
      }
      ++d;
    } else if (d == desired_.end() || s->first < d->first) {
      if (full) {
        next.push_back(*s);
      } else {
        withdrawn.push_back(s->first);
      }
      ++s;
    } else {
      if (!in_scope(d->first)) {
        next.push_back(*s);
      } else {
        if (full || (d->second != s->second && *d->second != *s->second)) {
          announce(d->first, d->second);
        }
        next.push_back(*d);
      }
      ++d;
      ++s;
    }
  }
  advertised_ = std::move(next);

  std::vector<UpdateMessage> updates;
  if (!withdrawn.empty()) {
    UpdateMessage u;
    u.withdrawn = std::move(withdrawn);
    updates.push_back(std::move(u));
  }
  for (auto& [attrs, prefixes] : groups) {
    UpdateMessage u;
    u.announced = std::move(prefixes);
    u.attributes = *attrs;
    updates.push_back(std::move(u));
  }
  for (const UpdateMessage& u : updates) {
    absl::StatusOr<std::vector<std::vector<uint8_t>>> parts = EncodeUpdate(u, conn_.codec);
    if (!parts.ok()) {
      out.push_back({Action::Kind::kUpdateError, {}, std::string(parts.status().message())});
      continue;
    }
    for (auto& part : *parts) {
      ++stats_.updates_sent;
      out.push_back({Action::Kind::kSend, std::move(part), {}});
    }
  }
}

}  // namespace holdfast::bgp
