#include "bgp/speaker/speaker.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/unicast.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <deque>
#include <exception>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/net/await.h"
#include "common/net/spawn.h"
#include "spdlog/spdlog.h"

namespace holdfast::bgp {

namespace {

using asio::ip::tcp;

asio::ip::address ToAsio(const net::IpAddress& a) { return asio::ip::make_address(a.ToString()); }

std::optional<net::IpAddress> FromAsio(const asio::ip::address& a) {
  return net::IpAddress::Parse(a.to_string());
}

uint32_t RouterId(const net::IpAddress& a) {
  const auto& b = a.bytes();
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

// A log value: quoted, inner quotes replaced, so a line stays key=value parseable.
std::string Quote(const std::string& s) {
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "'"}}), "\"");
}

// The IP TTL (IPv6 hop limit) of a socket: IP_TTL or IPV6_UNICAST_HOPS by its family, which is
// what asio's unicast::hops picks. -1 is the kernel default again (ip(7), ipv6(7)).
template <typename Socket>
asio::error_code SetTtl(Socket& socket, int ttl) {
  asio::error_code ec;
  socket.set_option(asio::ip::unicast::hops(ttl), ec);
  return ec;
}

// One TCP connection: its socket and what waits to be written.
struct Conn {
  explicit Conn(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  std::vector<uint8_t> pending;
  bool writing = false;
  bool closing = false;
};

}  // namespace

struct Speaker::Impl {
  struct Peer {
    Peer(asio::io_context& io, PeerConfig c, SessionConfig sc)
        : config(std::move(c)),
          name(config.address.ToString()),
          session(std::move(sc)),
          timer(io) {}
    PeerConfig config;
    std::string name;
    Session session;
    asio::steady_timer timer;
    std::shared_ptr<Conn> conn;        // the session's connection
    std::shared_ptr<Conn> connecting;  // an outgoing attempt under way
    // The other connection of a collision (RFC 4271 section 6.8), until resolved.
    std::unique_ptr<Session> candidate;
    std::shared_ptr<Conn> candidate_conn;
    std::optional<TimePoint> armed;  // the deadline the timer waits for
    // NOTIFICATIONs not counted by `session`: those refusing a second connection, and those of
    // collision candidates (RFC 4271 section 6.8) that are gone.
    uint64_t other_notifications_sent = 0;
    uint64_t other_notifications_received = 0;
  };

  Impl(asio::io_context& io_context, const SpeakerConfig& c)
      : io(io_context), config(c), acceptor(io_context) {}

  asio::io_context& io;
  const SpeakerConfig& config;
  tcp::acceptor acceptor;
  std::vector<std::unique_ptr<Peer>> peers;
  std::vector<Announcement> desired;
  std::optional<DrainOptions> drain;
  bool stopping = false;
  int closing_conns = 0;
  // The listener's TTL: the largest of the peers' (0: kernel default). The kernel answers a SYN
  // with the listener's TTL before the connection is accepted and the peer known, and a GTSM peer
  // (RFC 5082) drops a SYN-ACK below 255.
  int listener_ttl = 0;
  std::function<void()> stop_done;

  mutable std::mutex mu;
  std::vector<PeerStatus> status;  // guarded by mu, one per peer

  SessionConfig SessionConfigFor(const PeerConfig& p) const {
    SessionConfig s;
    s.local_asn = config.local_asn;
    s.router_id = RouterId(config.router_id);
    s.peer_asn = p.asn;
    s.hold_time = p.hold_time;
    s.connect_retry = p.connect_retry;
    s.passive = p.passive;
    // The peer's own settings, if any; whether this process restarts is the speaker's.
    s.graceful_restart = p.graceful_restart.value_or(config.graceful_restart);
    s.graceful_restart.restarting = config.graceful_restart.restarting;
    s.max_prefixes = p.max_prefixes;
    s.max_prefixes_idle_hold = p.max_prefixes_idle_hold;
    s.max_prefixes_teardown = p.max_prefixes_teardown;
    return s;
  }

  Peer* FindPeer(const net::IpAddress& a) {
    for (auto& p : peers) {
      if (p->config.address == a) return p.get();
    }
    return nullptr;
  }

  // What goes on the wire: the desired set, with RFC 8326 GRACEFUL_SHUTDOWN while drained.
  std::vector<Announcement> Effective() const {
    std::vector<Announcement> out = desired;
    if (drain) {
      for (Announcement& a : out) {
        a.as_path_prepend += drain->extra_prepend;
        if (std::find(a.communities.begin(), a.communities.end(), kGracefulShutdownCommunity) ==
            a.communities.end()) {
          a.communities.push_back(kGracefulShutdownCommunity);
        }
      }
    }
    return out;
  }

  void Announce() {
    if (!drain) {
      // No copy of a set that may hold 100,000 announcements when nothing changes in it.
      for (auto& p : peers) Apply(*p, p->session.SetAnnouncements(Clock::now(), desired));
      return;
    }
    const std::vector<Announcement> effective = Effective();
    for (auto& p : peers) Apply(*p, p->session.SetAnnouncements(Clock::now(), effective));
  }

  void Spawn(asio::awaitable<void> a) {
    asio::co_spawn(io, std::move(a), LogFailure("bgp.coroutine_failed", spdlog::level::critical));
  }

  void Enqueue(const std::shared_ptr<Conn>& c, const std::vector<uint8_t>& bytes) {
    if (c->closing) return;
    c->pending.insert(c->pending.end(), bytes.begin(), bytes.end());
    if (!c->writing) {
      c->writing = true;
      Spawn(WriteLoop(c));
    }
  }

  asio::awaitable<void> WriteLoop(std::shared_ptr<Conn> c) {
    // Everything queued goes out in one write: an UPDATE burst is many small messages.
    while (!c->pending.empty()) {
      std::vector<uint8_t> out;
      out.swap(c->pending);
      auto [ec, n] = co_await asio::async_write(c->socket, asio::buffer(out), kAwait);
      if (ec) {
        c->pending.clear();
        break;
      }
    }
    c->writing = false;
    if (c->closing) Finish(c);
  }

  void CloseAfterWrites(const std::shared_ptr<Conn>& c) {
    if (c == nullptr || c->closing) return;
    c->closing = true;
    if (c->writing) {
      ++closing_conns;
    } else {
      asio::error_code ignored;
      c->socket.shutdown(tcp::socket::shutdown_both, ignored);
      c->socket.close(ignored);
    }
  }

  void Finish(const std::shared_ptr<Conn>& c) {
    asio::error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_both, ignored);
    c->socket.close(ignored);
    if (--closing_conns <= 0) {
      closing_conns = 0;
      if (stopping && stop_done) asio::post(io, std::exchange(stop_done, nullptr));
    }
  }

  void StartConnect(Peer& p) {
    if (p.connecting) {
      asio::error_code ignored;
      p.connecting->socket.close(ignored);
    }
    auto c = std::make_shared<Conn>(io);
    p.connecting = c;
    Spawn(Connect(&p, c));
  }

  asio::awaitable<void> Connect(Peer* p, std::shared_ptr<Conn> c) {
    const tcp::endpoint remote(ToAsio(p->config.address), p->config.port);
    asio::error_code ec;
    c->socket.open(remote.protocol(), ec);
    // Before the connect, so the SYN carries it too (a GTSM peer drops anything below 255).
    if (!ec && p->config.ttl != 0) ec = SetTtl(c->socket, p->config.ttl);
    if (!ec && p->config.local_address) {
      c->socket.bind(tcp::endpoint(ToAsio(*p->config.local_address), 0), ec);
    }
    if (!ec) std::tie(ec) = co_await c->socket.async_connect(remote, kAwait);
    if (p->connecting != c) co_return;  // superseded by a newer attempt or an accepted one
    p->connecting.reset();
    if (ec) {
      spdlog::debug("event=bgp.connect_failed peer={} error={}", p->name, Quote(ec.message()));
      Apply(*p, p->session.OnConnectionLost(Clock::now(), ec.message()));
      co_return;
    }
    if (p->session.state() != State::kConnect) {
      c->socket.close(ec);
      co_return;
    }
    Adopt(*p, c, true);
  }

  void Adopt(Peer& p, const std::shared_ptr<Conn>& c, bool outgoing) {
    asio::error_code ignored;
    c->socket.set_option(tcp::no_delay(true), ignored);
    p.conn = c;
    Spawn(ReadLoop(&p, c));
    Apply(p, p.session.OnConnected(Clock::now(), outgoing));
  }

  asio::awaitable<void> ReadLoop(Peer* p, std::shared_ptr<Conn> c) {
    std::vector<uint8_t> buf(64 * 1024);
    for (;;) {
      auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(buf), kAwait);
      const bool primary = p->conn == c;
      const bool candidate = p->candidate_conn == c && p->candidate != nullptr;
      if (!primary && !candidate) co_return;
      const TimePoint now = Clock::now();
      if (ec) {
        const std::string why = ec == asio::error::eof ? "closed_by_peer" : ec.message();
        if (primary) {
          Apply(*p, p->session.OnConnectionLost(now, why));
        } else {
          DropCandidate(*p);
        }
        co_return;
      }
      std::span<const uint8_t> bytes(buf.data(), n);
      if (primary) {
        Apply(*p, p->session.OnBytes(now, bytes));
      } else {
        ApplyCandidate(*p, p->candidate->OnBytes(now, bytes));
      }
    }
  }

  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      auto c = std::make_shared<Conn>(io);
      auto [ec] = co_await acceptor.async_accept(c->socket, kAwait);
      if (ec == asio::error::operation_aborted || stopping) co_return;
      if (ec) {
        spdlog::warn("event=bgp.accept_failed error={}", Quote(ec.message()));
        continue;
      }
      asio::error_code rec;
      const tcp::endpoint remote = c->socket.remote_endpoint(rec);
      std::optional<net::IpAddress> addr = rec ? std::nullopt : FromAsio(remote.address());
      Peer* p = addr ? FindPeer(*addr) : nullptr;
      if (p == nullptr) {
        spdlog::warn("event=bgp.connection_refused peer={} reason=not_configured",
                     addr ? addr->ToString() : "unknown");
        c->socket.close(rec);
        continue;
      }
      Accepted(*p, c);
    }
  }

  void Accepted(Peer& p, const std::shared_ptr<Conn>& c) {
    // The peer's own TTL from now on, or the kernel default if the listener's was raised for
    // another peer.
    if (p.config.ttl != 0 || listener_ttl != 0) {
      if (asio::error_code ec = SetTtl(c->socket, p.config.ttl != 0 ? p.config.ttl : -1)) {
        spdlog::warn("event=bgp.ttl_failed peer={} ttl={} error={}", p.name, p.config.ttl,
                     Quote(ec.message()));
      }
    }
    const State s = p.session.state();
    if (s == State::kConnect || s == State::kActive) {
      // No connection yet: take this one and drop our own attempt.
      if (p.connecting) {
        asio::error_code ignored;
        p.connecting->socket.close(ignored);
        p.connecting.reset();
      }
      Adopt(p, c, false);
      return;
    }
    if (s == State::kEstablished || s == State::kIdle || p.candidate != nullptr) {
      // RFC 4271 section 6.8: with a session Established, the new connection is closed.
      NotificationMessage n{
          kCease, s == State::kIdle ? kConnectionRejected : kConnectionCollisionResolution, {}};
      Enqueue(c, *EncodeMessage(n, {}));
      ++p.other_notifications_sent;
      CloseAfterWrites(c);
      spdlog::info("event=bgp.connection_refused peer={} state={} reason={}", p.name, StateName(s),
                   ErrorSubcodeName(kCease, n.subcode));
      return;
    }
    // OpenSent or OpenConfirm: run the OPEN exchange on the new connection too, and decide once
    // its OPEN names the peer's identifier.
    SessionConfig sc = SessionConfigFor(p.config);
    sc.passive = true;
    p.candidate = std::make_unique<Session>(sc);
    p.candidate_conn = c;
    p.candidate->Start(Clock::now());
    Spawn(ReadLoop(&p, c));
    ApplyCandidate(p, p.candidate->OnConnected(Clock::now(), false));
  }

  void CountCandidate(Peer& p) {
    const SessionStats s = p.candidate->stats();
    p.other_notifications_sent += s.notifications_sent;
    p.other_notifications_received += s.notifications_received;
  }

  void DropCandidate(Peer& p) {
    if (p.candidate) CountCandidate(p);
    CloseAfterWrites(p.candidate_conn);
    p.candidate.reset();
    p.candidate_conn.reset();
  }

  void ApplyCandidate(Peer& p, std::vector<Action> actions) {
    for (Action& a : actions) {
      if (p.candidate == nullptr) break;
      if (a.kind == Action::Kind::kSend) Enqueue(p.candidate_conn, a.bytes);
      if (a.kind == Action::Kind::kClose || a.kind == Action::Kind::kDown) DropCandidate(p);
    }
    ResolveCollision(p);
  }

  void ResolveCollision(Peer& p) {
    if (p.candidate == nullptr) return;
    const TimePoint now = Clock::now();
    if (p.session.state() == State::kEstablished) {
      ApplyCandidate(p, p.candidate->DropForCollision(now));
      return;
    }
    if (p.candidate->state() != State::kOpenConfirm) return;
    const uint32_t local_id = RouterId(config.router_id);
    const bool keep_local = KeepLocallyInitiated(local_id, p.candidate->remote_bgp_id());
    spdlog::info("event=bgp.collision peer={} local_id={} remote_id={} kept={}", p.name,
                 config.router_id.ToString(), p.candidate->remote_bgp_id(),
                 keep_local == p.session.initiated_locally() ? "existing" : "new");
    if (keep_local == p.session.initiated_locally()) {
      ApplyCandidate(p, p.candidate->DropForCollision(now));
      return;
    }
    Apply(p, p.session.DropForCollision(now), false);
    CountCandidate(p);
    std::unique_ptr<Session> winner = std::move(p.candidate);
    p.conn = std::move(p.candidate_conn);
    p.session.AdoptConnection(now, std::move(*winner));
    Apply(p, {});
  }

  void Apply(Peer& p, std::vector<Action> actions, bool resolve = true) {
    for (Action& a : actions) {
      switch (a.kind) {
        case Action::Kind::kConnect:
          StartConnect(p);
          break;
        case Action::Kind::kSend:
          if (p.conn) Enqueue(p.conn, a.bytes);
          break;
        case Action::Kind::kClose:
          CloseAfterWrites(p.conn);
          p.conn.reset();
          if (p.connecting) {
            asio::error_code ignored;
            p.connecting->socket.close(ignored);
            p.connecting.reset();
          }
          break;
        case Action::Kind::kEstablished: {
          const SessionStats s = p.session.stats();
          spdlog::info(
              "event=bgp.session_up peer={} asn={} hold_time={} four_octet_as={} "
              "graceful_restart={} prefixes_sent={}",
              p.name, p.config.asn, s.negotiated_hold_time, s.four_octet_as,
              s.peer_graceful_restart, s.prefixes_sent);
          break;
        }
        case Action::Kind::kDown: {
          const SessionStats s = p.session.stats();
          if (a.reason.rfind("notification_received", 0) == 0 && s.last_notification_received) {
            const NotificationMessage& n = *s.last_notification_received;
            spdlog::warn("event=bgp.notification_received peer={} asn={} code={} subcode={} {}",
                         p.name, p.config.asn, ErrorCodeName(n.code),
                         ErrorSubcodeName(n.code, n.subcode),
                         absl::StrCat("description=", Quote(Describe(n))));
          }
          if (a.reason.rfind("max_prefixes_reached", 0) == 0) {
            spdlog::error(
                "event=bgp.max_prefix peer={} asn={} limit={} idle_hold_s={} "
                "notification_sent=cease/maximum_number_of_prefixes_reached",
                p.name, p.config.asn, p.config.max_prefixes,
                std::max(p.config.max_prefixes_idle_hold, p.config.connect_retry).count());
          }
          spdlog::warn("event=bgp.session_down peer={} asn={} reason={} prefixes_received={}",
                       p.name, p.config.asn, Quote(a.reason), s.prefixes_received);
          break;
        }
        case Action::Kind::kUpdateError:
          spdlog::warn("event=bgp.update_error peer={} asn={} handling={}", p.name, p.config.asn,
                       Quote(a.reason));
          break;
      }
    }
    if (resolve) ResolveCollision(p);
    ArmTimer(p);
    Publish(p);
  }

  void ArmTimer(Peer& p) {
    const std::optional<TimePoint> next = p.session.NextDeadline();
    if (!next) {
      p.armed.reset();
      p.timer.cancel();
      return;
    }
    if (p.armed == next) return;  // already waiting for it
    p.armed = next;
    p.timer.expires_at(*next);
    p.timer.async_wait([this, peer = &p](const asio::error_code& ec) {
      if (ec) return;
      peer->armed.reset();
      Apply(*peer, peer->session.OnTimer(Clock::now()));
    });
  }

  void Publish(Peer& p) {
    const size_t i = static_cast<size_t>(
        std::find_if(peers.begin(), peers.end(), [&](const auto& x) { return x.get() == &p; }) -
        peers.begin());
    std::lock_guard<std::mutex> lock(mu);
    status[i].state = p.session.state();
    status[i].stats = p.session.stats();
    status[i].stats.notifications_sent += p.other_notifications_sent;
    status[i].stats.notifications_received += p.other_notifications_received;
  }
};

absl::StatusOr<std::unique_ptr<Speaker>> Speaker::Create(asio::io_context& io,
                                                         SpeakerConfig config) {
  if (config.local_asn == 0) return absl::InvalidArgumentError("local_asn is 0");
  if (!config.router_id.is_v4() || RouterId(config.router_id) == 0) {
    return absl::InvalidArgumentError("router_id must be a non-zero IPv4 address");
  }
  for (size_t i = 0; i < config.peers.size(); ++i) {
    const PeerConfig& p = config.peers[i];
    const std::string where = absl::StrCat("peers[", i, "] (", p.address.ToString(), ")");
    if (p.asn == 0) return absl::InvalidArgumentError(absl::StrCat(where, ": asn is 0"));
    // RFC 4271 section 4.2: hold time 0 or at least 3 seconds.
    if (p.hold_time == 1 || p.hold_time == 2) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": hold time must be 0 or >= 3"));
    }
    if (p.port == 0 && !p.passive) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": port is 0"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (config.peers[j].address == p.address) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": peer configured twice"));
      }
    }
    if (p.graceful_restart && p.graceful_restart->restart_time > 4095) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": graceful restart time over 4095 s (RFC 4724 section 3)"));
    }
  }
  if (config.graceful_restart.restart_time > 4095) {
    return absl::InvalidArgumentError("graceful restart time over 4095 s (RFC 4724 section 3)");
  }
  return std::unique_ptr<Speaker>(new Speaker(io, std::move(config)));
}

Speaker::Speaker(asio::io_context& io, SpeakerConfig config) : config_(std::move(config)) {
  impl_ = std::make_unique<Impl>(io, config_);
  for (const PeerConfig& p : config_.peers) {
    impl_->peers.push_back(std::make_unique<Impl::Peer>(io, p, impl_->SessionConfigFor(p)));
    PeerStatus s;
    s.address = p.address.ToString();
    s.asn = p.asn;
    impl_->status.push_back(std::move(s));
  }
}

Speaker::~Speaker() {
  // As a crash would: sockets close, no NOTIFICATION (RFC 4724 lets peers keep our routes).
  asio::error_code ignored;
  impl_->acceptor.close(ignored);
  for (auto& p : impl_->peers) {
    p->timer.cancel();
    for (auto* c : {&p->conn, &p->connecting, &p->candidate_conn}) {
      if (*c) (*c)->socket.close(ignored);
    }
  }
}

absl::Status Speaker::Start() {
  Impl& im = *impl_;
  if (config_.listen_port != 0) {
    const tcp::endpoint ep(ToAsio(config_.listen_address), config_.listen_port);
    asio::error_code ec;
    im.acceptor.open(ep.protocol(), ec);
    if (!ec) im.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    for (const PeerConfig& p : config_.peers)
      im.listener_ttl = std::max<int>(im.listener_ttl, p.ttl);
    if (!ec && im.listener_ttl != 0) ec = SetTtl(im.acceptor, im.listener_ttl);
    if (!ec) im.acceptor.bind(ep, ec);
    if (!ec) im.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("bgp listener ", config_.listen_address.ToString(),
                                                 ":", config_.listen_port, ": ", ec.message()));
    }
    im.Spawn(im.AcceptLoop());
  }
  spdlog::info("event=bgp.started asn={} router_id={} listen={}:{} peers={} restarting={}",
               config_.local_asn, config_.router_id.ToString(), config_.listen_address.ToString(),
               config_.listen_port, config_.peers.size(), config_.graceful_restart.restarting);
  for (auto& p : im.peers) im.Apply(*p, p->session.Start(Clock::now()));
  return absl::OkStatus();
}

void Speaker::SetAnnouncements(std::vector<Announcement> announcements) {
  asio::post(impl_->io, [im = impl_.get(), a = std::move(announcements)]() mutable {
    if (im->stopping) return;
    im->desired = std::move(a);
    im->Announce();
  });
}

void Speaker::Drain(DrainOptions options) {
  asio::post(impl_->io, [im = impl_.get(), options] {
    if (im->stopping) return;
    spdlog::info("event=bgp.drain extra_prepend={} prefixes={}", options.extra_prepend,
                 im->desired.size());
    im->drain = options;
    im->Announce();
  });
}

void Speaker::Undrain() {
  asio::post(impl_->io, [im = impl_.get()] {
    if (im->stopping) return;
    spdlog::info("event=bgp.undrain prefixes={}", im->desired.size());
    im->drain.reset();
    im->Announce();
  });
}

void Speaker::WithdrawAll() {
  asio::post(impl_->io, [im = impl_.get()] {
    if (im->stopping) return;
    spdlog::info("event=bgp.withdraw_all prefixes={}", im->desired.size());
    im->desired.clear();
    im->Announce();
  });
}

void Speaker::ResetPeer(const net::IpAddress& address, const std::string& why) {
  asio::post(impl_->io, [im = impl_.get(), address, why] {
    if (im->stopping) return;
    for (auto& p : im->peers) {
      // Only a session that has a connection: an attempt under way goes on.
      if (p->config.address != address || p->session.state() < State::kOpenSent) continue;
      spdlog::warn("event=bgp.session_reset peer={} state={} reason={}", p->name,
                   StateName(p->session.state()), Quote(why));
      if (p->candidate) im->DropCandidate(*p);
      asio::error_code ignored;
      for (std::shared_ptr<Conn>* c : {&p->conn, &p->connecting}) {
        if (*c == nullptr) continue;
        (*c)->socket.close(ignored);  // its read loop sees it is no longer the peer's and ends
        c->reset();
      }
      im->Apply(*p, p->session.OnConnectionLost(Clock::now(), why));
    }
  });
}

void Speaker::Stop(std::function<void()> done) {
  asio::post(impl_->io, [im = impl_.get(), done = std::move(done)]() mutable {
    im->stopping = true;
    im->stop_done = std::move(done);
    asio::error_code ignored;
    im->acceptor.close(ignored);
    for (auto& p : im->peers) {
      if (p->candidate) im->DropCandidate(*p);
      im->Apply(*p, p->session.Stop(Clock::now()));
    }
    spdlog::info("event=bgp.stopped");
    if (im->closing_conns == 0 && im->stop_done)
      asio::post(im->io, std::exchange(im->stop_done, nullptr));
  });
}

std::vector<PeerStatus> Speaker::Status() const {
  std::vector<PeerStatus> out;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    out = impl_->status;
  }
  const TimePoint now = Clock::now();
  for (PeerStatus& s : out) {
    if (s.stats.established_since) {
      s.uptime = std::chrono::duration_cast<std::chrono::seconds>(now - *s.stats.established_since);
    }
  }
  return out;
}

std::vector<std::pair<Prefix, ReceivedRoute>> Speaker::ReceivedRoutes(
    const net::IpAddress& address) {
  auto promise = std::make_shared<std::promise<std::vector<std::pair<Prefix, ReceivedRoute>>>>();
  std::future<std::vector<std::pair<Prefix, ReceivedRoute>>> result = promise->get_future();
  asio::post(impl_->io, [im = impl_.get(), address, promise] {
    std::vector<std::pair<Prefix, ReceivedRoute>> out;
    if (Impl::Peer* p = im->FindPeer(address)) {
      out.assign(p->session.adj_rib_in().begin(), p->session.adj_rib_in().end());
      std::sort(out.begin(), out.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    promise->set_value(std::move(out));
  });
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return {};
  return result.get();
}

}  // namespace holdfast::bgp
