#include "dns/server/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <random>
#include <span>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/cat.h"
#include "common/net/await.h"
#include "common/net/spawn.h"
#include "dns/limits/tcp_slots.h"
#include "dns/wire/message.h"

namespace holdfast::dns {

size_t ServerMetrics::SlotOf(uint16_t qtype) {
  switch (qtype) {
    case kTypeA:
      return kQtypeA;
    case kTypeNs:
      return kQtypeNs;
    case kTypeCname:
      return kQtypeCname;
    case kTypeSoa:
      return kQtypeSoa;
    case kTypeMx:
      return kQtypeMx;
    case kTypeTxt:
      return kQtypeTxt;
    case kTypeAaaa:
      return kQtypeAaaa;
    case kTypeAny:
      return kQtypeAny;
    default:
      return kQtypeOther;
  }
}

void ServerMetrics::RecordLatency(std::chrono::nanoseconds d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  size_t i = 0;
  while (i < kLatencyBoundsUs.size() && us > kLatencyBoundsUs[i]) ++i;
  Inc(latency[i]);
  latency_sum_ns.fetch_add(static_cast<uint64_t>(std::max<int64_t>(d.count(), 0)),
                           std::memory_order_relaxed);
}

namespace {

using asio::ip::tcp;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;

// SO_REUSEPORT: every worker binds the same address and port; the kernel spreads queries.
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Datagrams read (recvmmsg) and answered (sendmmsg) in one go before yielding to the loop's
// other work, and the room for each; 32 x 4 KiB stays small next to a per-worker loop.
constexpr unsigned kUdpBatch = 32;
constexpr size_t kUdpQueryMax = 4096;

ClientKey KeyOf(const asio::ip::address& a) {
  return a.is_v4() ? ClientKey::FromV4(a.to_v4().to_bytes())
                   : ClientKey::FromV6(a.to_v6().to_bytes());
}

// Idle connections looked at per accept when making room: one with a query waiting in its
// receive buffer is skipped (marked busy), and a flood of those must not cost a scan of them all.
constexpr int kMaxRoomCandidates = 16;

TcpClientKey TcpKeyOf(const asio::ip::address& a) {
  return a.is_v4() ? TcpClientKey::FromV4(a.to_v4().to_bytes())
                   : TcpClientKey::FromV6(a.to_v6().to_bytes());
}

struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer timer;
  Clock::time_point deadline;
  TcpSlots::Id id = 0;
};

}  // namespace

struct Server::State {
  State(asio::io_context& io_context, const ServerOptions& opts, const Snapshot<DnsData>& d,
        ServerMetrics& m)
      : io(io_context),
        udp_socket(io_context),
        acceptor(io_context),
        options(opts),
        data(d),
        metrics(m),
        limiter(opts.rate_limit),
        random(opts.random_seed),
        slots(TcpSlotsOptions{opts.max_tcp_connections, opts.max_tcp_connections_per_client}) {}

  // The current zones and services: the snapshot is read again only when it moved.
  const DnsData& Data() {
    const uint64_t sequence = data.sequence();
    if (current == nullptr || sequence != data_sequence) {
      data_sequence = sequence;
      current = data.Current();
      if (current == nullptr) current = std::make_shared<const DnsData>();
    }
    return *current;
  }

  // A client is proven when its prefix is trusted or has completed a TCP handshake (which a
  // spoofed source cannot).
  bool Proven(const asio::ip::address& client) {
    if (proven.contains(KeyOf(client))) return true;
    if (options.trusted_prefixes.empty()) return false;
    // Rare: only for an answer past the amplification cap, so the text round trip is fine.
    const std::optional<net::IpAddress> ip = net::IpAddress::Parse(
        client.is_v6() && client.to_v6().is_v4_mapped()
            ? asio::ip::make_address_v4(asio::ip::v4_mapped, client.to_v6()).to_string()
            : client.to_string());
    if (!ip.has_value()) return false;
    return std::any_of(options.trusted_prefixes.begin(), options.trusted_prefixes.end(),
                       [&](const net::IpPrefix& p) { return p.Contains(*ip); });
  }

  void Prove(const asio::ip::address& client) {
    if (proven.size() >= options.rate_limit.max_clients) proven.clear();
    proven.insert(KeyOf(client));
  }

  // Gives up the connection's slot; again (closed for room, then its loop ends) is a no-op.
  void Release(const Connection& c) {
    if (connections.erase(c.id) == 0) return;
    slots.Remove(c.id);
    metrics.tcp_connections_active.fetch_sub(1, std::memory_order_relaxed);
  }

  // Every slot is taken: closes the connection idle the longest, so that idle connections (one
  // client's thousand, say) cannot lock out a client with a query to ask. RFC 7766 section
  // 6.2.3 lets a server close idle connections when it needs the resources, and clients must
  // expect it. False when none is idle: every slot has a query in progress.
  bool MakeRoom();

  // Answers one message into `out` (appending); false when nothing is to be sent.
  bool Handle(std::span<const uint8_t> in, const asio::ip::address& client, bool over_tcp,
              ByteWriter& out);

  asio::io_context& io;
  udp::socket udp_socket;
  tcp::acceptor acceptor;
  ServerOptions options;
  const Snapshot<DnsData>& data;
  ServerMetrics& metrics;
  RateLimiter limiter;
  std::mt19937_64 random;
  absl::flat_hash_set<ClientKey> proven;
  uint64_t data_sequence = 0;
  std::shared_ptr<const DnsData> current;
  TcpSlots slots;
  absl::flat_hash_map<TcpSlots::Id, Connection*> connections;
  bool stopped = false;
};

bool Server::State::MakeRoom() {
  for (int i = 0; i < kMaxRoomCandidates; ++i) {
    const std::optional<TcpSlots::Id> oldest = slots.OldestIdle();
    if (!oldest.has_value()) return false;
    Connection& c = *connections.at(*oldest);
    asio::error_code ec;
    // Its next query may be in the kernel's buffer, not yet read by its loop: not idle.
    if (c.socket.available(ec) > 0 && !ec) {
      slots.SetBusy(c.id);
      continue;
    }
    Inc(metrics.tcp_connections_evicted);
    Release(c);
    // Its loop and watchdog end on the aborted read and wait.
    c.socket.close(ec);
    c.timer.cancel();
    return true;
  }
  return false;
}

bool Server::State::Handle(std::span<const uint8_t> in, const asio::ip::address& client,
                           bool over_tcp, ByteWriter& out) {
  const Clock::time_point start = Clock::now();
  Inc(over_tcp ? metrics.tcp_queries : metrics.udp_queries);
  const std::optional<Header> header = DecodeHeader(in);
  // Never answer a response, decodable or not (two servers would echo each other forever), nor
  // bytes too short to carry an ID to answer to.
  if (!header.has_value() || header->qr) {
    Inc(metrics.ignored);
    return false;
  }
  absl::StatusOr<Message> query = DecodeMessage(in);
  // Rate limiting first, so a flood costs no answers (UDP only: TCP proves the source).
  RateLimiter::Action action = RateLimiter::Action::kSend;
  if (!over_tcp) {
    action = limiter.Check(KeyOf(client), start);
    if (action == RateLimiter::Action::kDrop) {
      Inc(metrics.rate_limited_dropped);
      return false;
    }
  }

  AnswerResult result;
  if (!query.ok()) {
    Inc(metrics.malformed);
    result.response = FormErrResponse(*header);
  } else {
    Inc(metrics.queries_by_qtype[ServerMetrics::SlotOf(
        query->questions.empty() ? 0 : query->questions.front().type)]);
    result = Answer(
        Data(), *query, [this] { return random(); }, AnswerOptions{options.max_udp_size});
  }
  if (action == RateLimiter::Action::kSlip) {
    // A truncated answer with no records: useless to a reflection attack, and it tells a real
    // client to retry over TCP, which the rate limit does not cover.
    Inc(metrics.rate_limited_slipped);
    result.response.answers.clear();
    result.response.authority.clear();
    result.response.additional.clear();
    result.response.header.tc = true;
    result.fail_open = false;
  }

  size_t limit = 0xffff;
  if (!over_tcp) {
    // RFC 6891 section 6.2.5: sizes below 512 count as 512; above our maximum, ours.
    limit = kMinUdpSize;
    if (query.ok() && query->edns.has_value()) {
      limit = std::clamp<size_t>(query->edns->udp_size, kMinUdpSize,
                                 std::max<size_t>(options.max_udp_size, kMinUdpSize));
    }
  }

  const size_t base = out.size();
  bool truncated = false;
  if (!EncodeResponse(result.response, limit, out, &truncated).ok()) {
    // The engine builds only valid records; should one not encode, SERVFAIL says so.
    Message servfail;
    servfail.header = result.response.header;
    servfail.questions = result.response.questions;
    servfail.edns = result.response.edns;
    servfail.set_rcode(kRcodeServFail);
    if (!EncodeResponse(servfail, limit, out).ok()) return false;
  }
  if (!over_tcp && options.amplification_factor > 0) {
    const size_t cap = in.size() * options.amplification_factor;
    if (out.size() - base > cap && !Proven(client)) {
      out.Rewind(base);
      if (!EncodeResponse(result.response, cap, out, &truncated).ok()) return false;
      Inc(metrics.amplification_truncated);
    }
  }
  if (truncated) Inc(metrics.truncated);
  if (result.fail_open) Inc(metrics.fail_open_answers);
  Inc(metrics.responses_by_rcode[std::min<size_t>(result.response.rcode(),
                                                  ServerMetrics::kRcodeSlots - 1)]);
  metrics.RecordLatency(Clock::now() - start);
  return true;
}

namespace {

// The sender of a datagram, from what recvmmsg(2) wrote.
asio::ip::address AddressOf(const sockaddr_storage& from) {
  if (from.ss_family == AF_INET6) {
    const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(from);
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &sin6.sin6_addr, bytes.size());
    return asio::ip::address_v6(bytes, sin6.sin6_scope_id);
  }
  const auto& sin = reinterpret_cast<const sockaddr_in&>(from);
  asio::ip::address_v4::bytes_type bytes;
  std::memcpy(bytes.data(), &sin.sin_addr, bytes.size());
  return asio::ip::address_v4(bytes);
}

// UDP in batches, as NSD and Knot do: one recvmmsg(2) takes up to kUdpBatch queued datagrams
// and one sendmmsg(2) sends their answers. A syscall per datagram each way cost more than
// answering it (tests/bench/dns); a batch costs one pair. The loop waits for readability only
// when the socket is drained (the io_context runs on one thread, so no readiness is lost between
// the EAGAIN and the wait), and lets the loop's other work (TCP) run after each full batch.
asio::awaitable<void> UdpLoop(std::shared_ptr<Server::State> s) {
  std::vector<uint8_t> buffers(size_t{kUdpBatch} * kUdpQueryMax);
  std::array<sockaddr_storage, kUdpBatch> from{};
  std::array<iovec, kUdpBatch> in_iov{};
  std::array<mmsghdr, kUdpBatch> in{};
  std::array<iovec, kUdpBatch> out_iov{};
  std::array<mmsghdr, kUdpBatch> out{};
  std::array<ByteWriter, kUdpBatch> answers;
  for (;;) {
    if (s->stopped || !s->udp_socket.is_open()) co_return;
    for (size_t i = 0; i < kUdpBatch; ++i) {
      in_iov[i] = iovec{buffers.data() + i * kUdpQueryMax, kUdpQueryMax};
      in[i].msg_hdr = msghdr{};
      in[i].msg_hdr.msg_name = &from[i];
      in[i].msg_hdr.msg_namelen = sizeof(from[i]);
      in[i].msg_hdr.msg_iov = &in_iov[i];
      in[i].msg_hdr.msg_iovlen = 1;
      in[i].msg_len = 0;
    }
    const int fd = s->udp_socket.native_handle();
    const int n = ::recvmmsg(fd, in.data(), kUdpBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      // Drained (EAGAIN), or an error the socket reports: wait until there is more to read.
      co_await s->udp_socket.async_wait(udp::socket::wait_read, kAwait);
      continue;
    }
    unsigned replies = 0;
    for (int i = 0; i < n; ++i) {
      // A datagram longer than kUdpQueryMax is cut (MSG_TRUNC): no query is that long (one
      // question and an OPT), and the cut bytes fail to decode, so it gets FORMERR.
      const std::span<const uint8_t> query(buffers.data() + size_t(i) * kUdpQueryMax,
                                           std::min<size_t>(in[i].msg_len, kUdpQueryMax));
      ByteWriter& answer = answers[replies];
      answer.Clear();
      if (!s->Handle(query, AddressOf(from[i]), false, answer)) continue;
      out_iov[replies] = iovec{answer.mutable_data().data(), answer.size()};
      out[replies].msg_hdr = msghdr{};
      out[replies].msg_hdr.msg_name = &from[i];
      out[replies].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
      out[replies].msg_hdr.msg_iov = &out_iov[replies];
      out[replies].msg_hdr.msg_iovlen = 1;
      ++replies;
    }
    // Non-blocking: with the send buffer full the rest of the batch is lost, as the network may
    // lose it, and the clients retry. A datagram the kernel refuses alone (sendmmsg fails on the
    // first) is skipped.
    for (unsigned sent = 0; sent < replies;) {
      const int m = ::sendmmsg(fd, out.data() + sent, replies - sent, MSG_DONTWAIT);
      if (m > 0) {
        sent += static_cast<unsigned>(m);
      } else if (m < 0 && errno == EINTR) {
        continue;
      } else if (m < 0 && (errno == EAGAIN || errno == ENOBUFS)) {  // EWOULDBLOCK is EAGAIN
        break;
      } else {
        ++sent;
      }
    }
    if (n == static_cast<int>(kUdpBatch)) co_await asio::post(s->io, asio::use_awaitable);
  }
}

asio::awaitable<void> Watchdog(std::shared_ptr<Connection> c, std::shared_ptr<Server::State> s) {
  while (c->socket.is_open()) {
    c->timer.expires_at(c->deadline);
    co_await c->timer.async_wait(kAwait);
    if (!c->socket.is_open()) co_return;
    if (c->deadline <= Clock::now()) {
      Inc(s->metrics.tcp_connections_idle_closed);
      asio::error_code ignored;
      c->socket.close(ignored);
      co_return;
    }
  }
}

asio::awaitable<void> Serve(std::shared_ptr<Server::State> s, std::shared_ptr<Connection> c) {
  // Runs also when the frame is destroyed without finishing (the io_context goes away): the
  // frame holds `s`, so the state is still there.
  struct Leave {
    Server::State& s;
    const Connection& c;
    ~Leave() { s.Release(c); }
  } leave{*s, *c};
  asio::error_code ec;
  const asio::ip::address client = c->socket.remote_endpoint(ec).address();
  // Grown to the largest query seen, not 64 KiB up front: idle connections stay cheap.
  std::vector<uint8_t> buffer;
  uint8_t length[2];
  ByteWriter out;
  for (;;) {
    c->deadline = Clock::now() + s->options.tcp_idle_timeout;
    s->slots.SetIdle(c->id);
    // RFC 1035 section 4.2.2 and RFC 7766 section 8: each message after a 2-octet length. Busy
    // from its first octet on, so a query is never cut for room between its length's octets.
    auto [ec1, n1] = co_await c->socket.async_read_some(asio::buffer(length), kAwait);
    if (ec1) break;
    s->slots.SetBusy(c->id);
    if (n1 < sizeof length) {
      auto [ec1b, n1b] = co_await asio::async_read(
          c->socket, asio::buffer(length + n1, sizeof length - n1), kAwait);
      if (ec1b) break;
    }
    const size_t size = (size_t{length[0]} << 8) | length[1];
    if (buffer.size() < size) buffer.resize(size);
    auto [ec2, n2] =
        co_await asio::async_read(c->socket, asio::buffer(buffer.data(), size), kAwait);
    if (ec2) break;
    out.Clear();
    out.U16(0);
    if (!s->Handle({buffer.data(), size}, client, true, out)) continue;
    out.PatchU16(0, static_cast<uint16_t>(out.size() - 2));
    // Answers go out in query order; RFC 7766 section 6.2.1.1 allows any order, in order is
    // what every client handles.
    auto [ec3, n3] = co_await asio::async_write(c->socket, asio::buffer(out.data()), kAwait);
    if (ec3) break;
  }
  c->socket.close(ec);
  c->timer.cancel();
}

asio::awaitable<void> AcceptLoop(std::shared_ptr<Server::State> s) {
  for (;;) {
    auto [ec, socket] = co_await s->acceptor.async_accept(kAwait);
    if (s->stopped || !s->acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors, say: wait a little rather than spin on the error.
      asio::steady_timer pause(s->io, std::chrono::milliseconds(50));
      co_await pause.async_wait(kAwait);
      continue;
    }
    asio::error_code ep_ec;
    const tcp::endpoint remote = socket.remote_endpoint(ep_ec);
    if (ep_ec) {
      // Reset before we got to it: nothing to serve.
      socket.close(ep_ec);
      continue;
    }
    const TcpClientKey client = TcpKeyOf(remote.address());
    TcpSlots::Verdict verdict = s->slots.Check(client);
    if (verdict == TcpSlots::Verdict::kFull && s->MakeRoom()) verdict = s->slots.Check(client);
    if (verdict != TcpSlots::Verdict::kAdmit) {
      Inc(verdict == TcpSlots::Verdict::kRefusePerClient
              ? s->metrics.tcp_connections_refused_per_client
              : s->metrics.tcp_connections_refused);
      asio::error_code ignored;
      socket.close(ignored);
      continue;
    }
    Inc(s->metrics.tcp_connections_accepted);
    s->metrics.tcp_connections_active.fetch_add(1, std::memory_order_relaxed);
    s->Prove(remote.address());
    auto c = std::make_shared<Connection>(std::move(socket));
    c->deadline = Clock::now() + s->options.tcp_idle_timeout;
    c->id = s->slots.Add(client);
    s->connections.emplace(c->id, c.get());
    asio::co_spawn(s->io, Watchdog(c, s), LogFailure("dns.tcp_watchdog_failed"));
    asio::co_spawn(s->io, Serve(s, c), [s](const std::exception_ptr& e) {
      if (e) Inc(s->metrics.ignored);
      LogFailure("dns.tcp_session_failed")(e);
    });
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Create(asio::io_context& io,
                                                       const ServerOptions& options,
                                                       const Snapshot<DnsData>& data,
                                                       ServerMetrics& metrics) {
  auto s = std::make_shared<State>(io, options, data, metrics);
  // With port 0 the UDP socket picks the port and TCP must get the same one; another program
  // may hold it for TCP, so try a few.
  const int attempts = options.port == 0 ? 16 : 1;
  asio::error_code ec;
  uint16_t port = options.port;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    ec.clear();
    asio::error_code ignored;
    s->udp_socket.close(ignored);
    s->acceptor.close(ignored);
    const udp::endpoint udp_bind(options.address, options.port);
    s->udp_socket.open(udp_bind.protocol(), ec);
    if (!ec) s->udp_socket.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s->udp_socket.set_option(ReusePort(true), ec);
    if (!ec) s->udp_socket.bind(udp_bind, ec);
    if (!ec) port = s->udp_socket.local_endpoint(ec).port();
    if (ec) continue;
    const tcp::endpoint tcp_bind(options.address, port);
    s->acceptor.open(tcp_bind.protocol(), ec);
    if (!ec) s->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s->acceptor.set_option(ReusePort(true), ec);
    if (!ec) s->acceptor.bind(tcp_bind, ec);
    if (!ec) s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) break;
  }
  if (!ec) s->udp_socket.non_blocking(true, ec);
  if (ec) {
    return absl::UnavailableError(Cat("dns: cannot listen on ", options.address.to_string(), ":",
                                      options.port, ": ", ec.message()));
  }
  return std::unique_ptr<Server>(new Server(std::move(s), port));
}

Server::~Server() = default;

void Server::Start() {
  asio::co_spawn(state_->io, UdpLoop(state_), [s = state_](const std::exception_ptr& e) {
    if (e) Inc(s->metrics.ignored);
    LogFailure("dns.udp_loop_failed", spdlog::level::critical)(e);
  });
  asio::co_spawn(state_->io, AcceptLoop(state_), [s = state_](const std::exception_ptr& e) {
    if (e) Inc(s->metrics.ignored);
    LogFailure("dns.accept_loop_failed", spdlog::level::critical)(e);
  });
}

void Server::Stop() {
  asio::post(state_->io, [s = state_] {
    s->stopped = true;
    asio::error_code ignored;
    s->udp_socket.close(ignored);
    s->acceptor.close(ignored);
    for (const auto& [id, c] : s->connections) c->socket.close(ignored);
  });
}

}  // namespace holdfast::dns
