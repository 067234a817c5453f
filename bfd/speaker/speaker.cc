#include "bfd/speaker/speaker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "spdlog/spdlog.h"

namespace holdfast::bfd {
namespace {

// Packets read from one socket per wake-up at most: the timers run between batches.
constexpr int kBatch = 64;
constexpr auto kRefusalLogEvery = std::chrono::seconds(1);

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

socklen_t ToSockaddr(const net::IpAddress& a, uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof(out));
  if (a.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, a.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  std::memcpy(&in6->sin6_addr, a.bytes().data(), 16);
  return sizeof(sockaddr_in6);
}

std::string AddressOf(const sockaddr_storage& s) {
  char text[INET6_ADDRSTRLEN] = {};
  if (s.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&s)->sin_addr, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&s)->sin6_addr, text, sizeof(text));
  }
  return text;
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

struct Speaker::Entry {
  Entry(PeerConfig c, SessionConfig s) : config(std::move(c)), session(s) {}
  PeerConfig config;
  Session session;
  Fd socket;  // bound to local:source_port, connected to the peer
  uint16_t source_port = 0;
};

struct Speaker::Receiver {
  Fd socket;  // local:3784 or local:4784
  bool multihop = false;
  int users = 0;
};

absl::StatusOr<std::unique_ptr<Speaker>> Speaker::Create(OnStateChange on_change) {
  const int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) return absl::InternalError(Errno("eventfd"));
  std::unique_ptr<Speaker> speaker(new Speaker(std::move(on_change), wake));
  speaker->thread_ = std::thread([s = speaker.get()] { s->Loop(); });
  return speaker;
}

Speaker::Speaker(OnStateChange on_change, int wake_fd)
    : on_change_(std::move(on_change)), wake_fd_(wake_fd) {}

Speaker::~Speaker() {
  {
    std::lock_guard lock(mu_);
    std::vector<std::pair<PeerConfig, StateChange>> ignored;
    for (auto& [key, entry] : sessions_) {
      Execute(*entry, entry->session.Stop(Clock::now()), ignored);
    }
  }
  stopping_ = true;
  Wake();
  if (thread_.joinable()) thread_.join();
  close(wake_fd_);
}

absl::Status Speaker::Add(const PeerConfig& peer) {
  if (peer.local.family() != peer.peer.family()) {
    return absl::InvalidArgumentError("BFD peer " + peer.peer.ToString() +
                                      ": local address of another family");
  }
  const int family = peer.local.is_v4() ? AF_INET : AF_INET6;
  const Key key{peer.local.ToString(), peer.peer.ToString(), peer.multihop};
  std::lock_guard lock(mu_);
  if (sessions_.contains(key)) return absl::OkStatus();

  // The receiving socket of the local address, shared.
  auto& receiver = receivers_[{peer.local.ToString(), peer.multihop}];
  if (receiver == nullptr) {
    auto r = std::make_unique<Receiver>();
    r->multihop = peer.multihop;
    r->socket.fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int on = 1;
    sockaddr_storage address;
    const socklen_t length =
        ToSockaddr(peer.local, peer.multihop ? kMultihopPort : kSingleHopPort, address);
    const bool ok =
        r->socket.fd >= 0 &&
        setsockopt(r->socket.fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 &&
        (family == AF_INET
             ? setsockopt(r->socket.fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on))
             : setsockopt(r->socket.fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on))) == 0 &&
        (family == AF_INET ||
         setsockopt(r->socket.fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == 0) &&
        bind(r->socket.fd, reinterpret_cast<sockaddr*>(&address), length) == 0;
    if (!ok) {
      const std::string why = Errno("BFD receive socket");
      receivers_.erase({peer.local.ToString(), peer.multihop});
      return absl::UnavailableError(why + " on " + peer.local.ToString() + " port " +
                                    std::to_string(peer.multihop ? kMultihopPort : kSingleHopPort));
    }
    receiver = std::move(r);
  }

  // A discriminator no other session of ours has (RFC 5880 section 6.3: unique, not 0).
  std::random_device random;
  SessionConfig config;
  while (config.local_discriminator == 0 ||
         by_discriminator_.contains(config.local_discriminator)) {
    config.local_discriminator = random();
  }
  config.desired_min_tx = peer.interval;
  config.required_min_rx = peer.interval;
  config.detect_multiplier = peer.multiplier;
  config.seed = (uint64_t{random()} << 32) | random();
  auto entry = std::make_unique<Entry>(peer, config);
  // The session's own sending socket: a source port in 49152-65535 kept for its life (RFC 5881
  // section 4), TTL 255 (section 5: the receiver checks it for single hop).
  entry->socket.fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int ttl = 255;
  bool ok = entry->socket.fd >= 0 &&
            (family == AF_INET ? setsockopt(entry->socket.fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl))
                               : setsockopt(entry->socket.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl,
                                            sizeof(ttl))) == 0;
  for (int attempt = 0; ok && attempt < 100 && entry->source_port == 0; ++attempt) {
    const auto port = static_cast<uint16_t>(kSourcePortMin + random() % (65536 - kSourcePortMin));
    sockaddr_storage address;
    const socklen_t length = ToSockaddr(peer.local, port, address);
    if (bind(entry->socket.fd, reinterpret_cast<sockaddr*>(&address), length) == 0) {
      entry->source_port = port;
    } else if (errno != EADDRINUSE) {
      ok = false;
    }
  }
  sockaddr_storage to;
  const socklen_t to_length =
      ToSockaddr(peer.peer, peer.multihop ? kMultihopPort : kSingleHopPort, to);
  ok = ok && entry->source_port != 0 &&
       connect(entry->socket.fd, reinterpret_cast<sockaddr*>(&to), to_length) == 0;
  if (!ok) {
    const std::string why = Errno("BFD send socket");
    if (receiver->users == 0) receivers_.erase({peer.local.ToString(), peer.multihop});
    return absl::UnavailableError(why + " from " + peer.local.ToString() + " to " +
                                  peer.peer.ToString());
  }
  ++receiver->users;

  const uint32_t discriminator = config.local_discriminator;
  Entry& e = *entry;
  by_discriminator_[discriminator] = entry.get();
  sessions_[key] = std::move(entry);
  spdlog::info(
      "event=bfd.session_added peer={} local={} multihop={} interval_ms={} multiplier={} "
      "discriminator={} source_port={}",
      peer.peer.ToString(), peer.local.ToString(), peer.multihop,
      std::chrono::duration_cast<std::chrono::milliseconds>(peer.interval).count(), peer.multiplier,
      discriminator, e.source_port);
  std::vector<std::pair<PeerConfig, StateChange>> changes;
  Execute(e, e.session.Start(Clock::now()), changes);
  Wake();  // a new socket to watch and a timer to run
  return absl::OkStatus();
}

void Speaker::Remove(const net::IpAddress& local, const net::IpAddress& peer, bool multihop) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(Key{local.ToString(), peer.ToString(), multihop});
  if (it == sessions_.end()) return;
  std::vector<std::pair<PeerConfig, StateChange>> ignored;
  Execute(*it->second, it->second->session.Stop(Clock::now()), ignored);
  by_discriminator_.erase(it->second->session.config().local_discriminator);
  sessions_.erase(it);
  ReleaseReceiver(local.ToString(), multihop);
  spdlog::info("event=bfd.session_removed peer={} local={} multihop={}", peer.ToString(),
               local.ToString(), multihop);
  Wake();
}

void Speaker::ReleaseReceiver(const std::string& local, bool multihop) {
  auto it = receivers_.find({local, multihop});
  if (it != receivers_.end() && --it->second->users <= 0) receivers_.erase(it);
}

std::vector<PeerStatus> Speaker::Status() const {
  std::lock_guard lock(mu_);
  std::vector<PeerStatus> out;
  for (const auto& [key, entry] : sessions_) {
    out.push_back(PeerStatus{entry->config, entry->session.config().local_discriminator,
                             entry->source_port, entry->session.stats()});
  }
  return out;
}

RefusedPackets Speaker::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

void Speaker::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void Speaker::Loop() {
  // Best effort: ahead of the proxy's workers when the cores are busy (needs CAP_SYS_NICE).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), -10);
  std::vector<pollfd> fds;
  std::vector<Receiver*> watched;
  while (!stopping_.load()) {
    int timeout_ms = 1000;
    {
      std::lock_guard lock(mu_);
      fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
      watched.clear();
      for (auto& [key, receiver] : receivers_) {
        fds.push_back(pollfd{receiver->socket.fd, POLLIN, 0});
        watched.push_back(receiver.get());
      }
      const TimePoint now = Clock::now();
      for (auto& [key, entry] : sessions_) {
        if (std::optional<TimePoint> next = entry->session.NextDeadline()) {
          const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
          timeout_ms = std::min<int>(timeout_ms, static_cast<int>(std::max<int64_t>(wait, 0)));
        }
      }
    }
    if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      spdlog::error("event=bfd.poll_failed error=\"{}\"", std::strerror(errno));
    }
    std::vector<std::pair<PeerConfig, StateChange>> changes;
    {
      std::lock_guard lock(mu_);
      const TimePoint now = Clock::now();
      for (size_t i = 1; i < fds.size(); ++i) {
        // A receiver removed meanwhile is gone from receivers_: only those still there.
        if ((fds[i].revents & POLLIN) == 0) continue;
        for (auto& [key, receiver] : receivers_) {
          if (receiver.get() == watched[i - 1]) {
            ReceiveFrom(*receiver, now, changes);
            break;
          }
        }
      }
      for (auto& [key, entry] : sessions_) {
        std::optional<TimePoint> next = entry->session.NextDeadline();
        if (next && *next <= now) Execute(*entry, entry->session.OnTimer(now), changes);
      }
      uint64_t drained = 0;
      (void)!read(wake_fd_, &drained, sizeof(drained));
    }
    for (const auto& [peer, change] : changes) {
      if (on_change_) on_change_(peer, change);
    }
  }
}

void Speaker::ReceiveFrom(Receiver& receiver, TimePoint now,
                          std::vector<std::pair<PeerConfig, StateChange>>& changes) {
  for (int i = 0; i < kBatch; ++i) {
    std::array<uint8_t, 256> buffer;
    sockaddr_storage from;
    std::array<char, CMSG_SPACE(sizeof(int)) * 2> control;
    iovec iov{buffer.data(), buffer.size()};
    msghdr message{};
    message.msg_name = &from;
    message.msg_namelen = sizeof(from);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    const ssize_t n = recvmsg(receiver.socket.fd, &message, MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN: read all there was
    int ttl = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
        std::memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
      }
    }
    const std::string source = AddressOf(from);
    // RFC 5881 section 5: single hop takes only what no router forwarded (GTSM, RFC 5082).
    if (!receiver.multihop && ttl != 255) {
      Refuse(refused_.ttl, source, "TTL " + std::to_string(ttl) + ", not 255 (single hop)");
      continue;
    }
    absl::StatusOr<ControlPacket> packet =
        DecodeControlPacket(std::span<const uint8_t>(buffer.data(), static_cast<size_t>(n)));
    if (!packet.ok()) {
      Refuse(refused_.malformed, source, std::string(packet.status().message()));
      continue;
    }
    Entry* entry = nullptr;
    if (packet->your_discriminator != 0) {
      auto it = by_discriminator_.find(packet->your_discriminator);
      if (it == by_discriminator_.end()) {
        Refuse(refused_.no_session, source,
               "Your Discriminator " + std::to_string(packet->your_discriminator) +
                   " is no session's");
        continue;
      }
      entry = it->second;
      if (entry->config.peer.ToString() != source) {
        Refuse(refused_.wrong_source, source,
               "discriminator of the session with " + entry->config.peer.ToString());
        continue;
      }
    } else {
      for (auto& [key, candidate] : sessions_) {
        if (candidate->config.multihop == receiver.multihop &&
            candidate->config.peer.ToString() == source &&
            receivers_.at({candidate->config.local.ToString(), receiver.multihop}).get() ==
                &receiver) {
          entry = candidate.get();
          break;
        }
      }
      if (entry == nullptr) {
        Refuse(refused_.no_session, source, "no session with this address");
        continue;
      }
    }
    Execute(*entry, entry->session.OnPacket(now, *packet), changes);
  }
}

void Speaker::Execute(Entry& entry, const std::vector<Action>& actions,
                      std::vector<std::pair<PeerConfig, StateChange>>& changes) {
  for (const Action& a : actions) {
    if (a.kind == Action::Kind::kSend) {
      const std::vector<uint8_t> bytes = EncodeControlPacket(a.packet);
      // A full socket buffer or an unreachable peer loses this packet; the next one follows
      // within an interval, and detection counts on a few.
      (void)!send(entry.socket.fd, bytes.data(), bytes.size(), MSG_DONTWAIT);
      continue;
    }
    const auto level = a.to == SessionState::kUp || a.from != SessionState::kUp
                           ? spdlog::level::info
                           : spdlog::level::warn;
    const SessionStats s = entry.session.stats();
    spdlog::log(level,
                "event=bfd.session_{} peer={} local={} from={} diagnostic={} "
                "remote_diagnostic={} tx_ms={} detect_ms={}",
                SessionStateName(a.to), entry.config.peer.ToString(), entry.config.local.ToString(),
                SessionStateName(a.from), DiagnosticName(a.diagnostic),
                DiagnosticName(s.remote_diagnostic),
                std::chrono::duration_cast<std::chrono::milliseconds>(s.transmit_interval).count(),
                std::chrono::duration_cast<std::chrono::milliseconds>(s.detection_time).count());
    changes.emplace_back(entry.config, StateChange{a.from, a.to, a.diagnostic});
  }
}

void Speaker::Refuse(uint64_t& counter, const std::string& from, const std::string& why) {
  ++counter;
  const TimePoint now = Clock::now();
  if (now - last_refusal_log_ < kRefusalLogEvery) return;
  last_refusal_log_ = now;
  spdlog::warn(
      "event=bfd.packet_refused from={} reason=\"{}\" malformed={} ttl={} no_session={} "
      "wrong_source={}",
      from, why, refused_.malformed, refused_.ttl, refused_.no_session, refused_.wrong_source);
}

}  // namespace holdfast::bfd
