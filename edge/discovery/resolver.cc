#include "edge/discovery/resolver.h"

#include <ares.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "absl/time/clock.h"
#include "common/cat.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

// The shortest wait between two resolutions of a name, whatever its TTL says.
constexpr absl::Duration kMinRefresh = absl::Seconds(1);

struct Query {
  bool done = false;
  int status = ARES_SUCCESS;
  Resolution result;
};

void OnAddrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* info) {
  auto* q = static_cast<Query*>(arg);
  q->done = true;
  q->status = status;
  if (status != ARES_SUCCESS || info == nullptr) {
    if (info != nullptr) ares_freeaddrinfo(info);
    return;
  }
  int min_ttl = -1;
  for (const ares_addrinfo_node* n = info->nodes; n != nullptr; n = n->ai_next) {
    if (n->ai_family == AF_INET && n->ai_addrlen >= sizeof(sockaddr_in)) {
      sockaddr_in sin;
      std::memcpy(&sin, n->ai_addr, sizeof sin);
      std::array<unsigned char, 4> bytes;
      std::memcpy(bytes.data(), &sin.sin_addr, 4);
      q->result.addresses.emplace_back(asio::ip::address_v4(bytes));
    } else if (n->ai_family == AF_INET6 && n->ai_addrlen >= sizeof(sockaddr_in6)) {
      sockaddr_in6 sin6;
      std::memcpy(&sin6, n->ai_addr, sizeof sin6);
      std::array<unsigned char, 16> bytes;
      std::memcpy(bytes.data(), &sin6.sin6_addr, 16);
      q->result.addresses.emplace_back(asio::ip::address_v6(bytes));
    } else {
      continue;
    }
    if (n->ai_ttl > 0 && (min_ttl < 0 || n->ai_ttl < min_ttl)) min_ttl = n->ai_ttl;
  }
  q->result.ttl = min_ttl > 0 ? absl::Seconds(min_ttl) : absl::ZeroDuration();
  ares_freeaddrinfo(info);
}

// c-ares wants one library initialization per process, before any channel.
void InitOnce() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  (void)status;
}

}  // namespace

absl::StatusOr<Resolution> ResolveHost(const std::string& hostname, absl::Duration timeout,
                                       const std::string& servers) {
  InitOnce();
  ares_channel channel = nullptr;
  if (ares_init(&channel) != ARES_SUCCESS) {
    return absl::UnavailableError("cannot initialize the resolver");
  }
  if (!servers.empty() && ares_set_servers_ports_csv(channel, servers.c_str()) != ARES_SUCCESS) {
    ares_destroy(channel);
    return absl::InvalidArgumentError(Cat("bad resolver list '", servers, "'"));
  }
  Query q;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;  // A and AAAA
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(channel, hostname.c_str(), nullptr, &hints, OnAddrinfo, &q);
  const absl::Time deadline = absl::Now() + timeout;
  while (!q.done) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    // poll, not select: the edge's descriptors run far past FD_SETSIZE.
    ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
    const int bits = ares_getsock(channel, sockets, ARES_GETSOCK_MAXNUM);
    std::vector<pollfd> fds;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events != 0) fds.push_back(pollfd{sockets[i], events, 0});
    }
    if (fds.empty()) break;  // nothing in flight and no answer: give up
    timeval max = absl::ToTimeval(std::min(left, absl::Milliseconds(100)));
    timeval tv;
    const timeval* wait = ares_timeout(channel, &max, &tv);
    const int ms = static_cast<int>(wait->tv_sec * 1000 + wait->tv_usec / 1000);
    if (poll(fds.data(), fds.size(), ms) <= 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts and retries
      continue;
    }
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      ares_process_fd(channel, (p.revents & (POLLIN | POLLERR | POLLHUP)) ? p.fd : ARES_SOCKET_BAD,
                      (p.revents & POLLOUT) ? p.fd : ARES_SOCKET_BAD);
    }
  }
  ares_destroy(channel);  // calls back with ARES_EDESTRUCTION if still pending: q is still alive
  if (!q.done) return absl::UnavailableError(Cat("resolving ", hostname, " timed out"));
  if (q.status == ARES_ENOTFOUND || q.status == ARES_ENONAME ||
      (q.status == ARES_SUCCESS && q.result.addresses.empty())) {
    return absl::NotFoundError(Cat(hostname, " has no address"));
  }
  if (q.status != ARES_SUCCESS) {
    return absl::UnavailableError(Cat("resolving ", hostname, ": ", ares_strerror(q.status)));
  }
  std::sort(q.result.addresses.begin(), q.result.addresses.end());
  q.result.addresses.erase(std::unique(q.result.addresses.begin(), q.result.addresses.end()),
                           q.result.addresses.end());
  return q.result;
}

void DiscoveryLoop::SetTargets(std::vector<Target> targets) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, State> next;
  for (Target& t : targets) {
    auto it = states_.find(t.cluster);
    State s;
    if (it != states_.end() && it->second.target.hostname == t.hostname) s = std::move(it->second);
    s.target = std::move(t);
    next[s.target.cluster] = std::move(s);
  }
  states_ = std::move(next);
  wake_.notify_all();
}

void DiscoveryLoop::Start() {
  thread_ = std::thread([this] { Run(); });
}

void DiscoveryLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DiscoveryLoop::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    // The target due first.
    const absl::Time now = absl::Now();
    State* due = nullptr;
    absl::Time next = absl::InfiniteFuture();
    for (auto& [cluster, s] : states_) {
      if (s.due <= now && due == nullptr) due = &s;
      next = std::min(next, s.due);
    }
    if (due == nullptr) {
      const absl::Duration wait = next == absl::InfiniteFuture() ? absl::Hours(1) : next - now;
      wake_.wait_for(lock, absl::ToChronoNanoseconds(std::max(wait, absl::Milliseconds(1))));
      continue;
    }
    const Target target = due->target;
    lock.unlock();
    const absl::StatusOr<Resolution> r = ResolveHost(target.hostname, absl::Seconds(5), servers_);
    lock.lock();
    auto it = states_.find(target.cluster);
    if (it == states_.end() || it->second.target.hostname != target.hostname) continue;
    State& s = it->second;
    if (!r.ok()) {
      // Keep the last good addresses; try again at the refresh interval.
      spdlog::warn("event=discovery.resolve_failed cluster={} hostname={} reason=\"{}\" kept={}",
                   target.cluster, target.hostname, std::string(r.status().message()),
                   s.addresses.size());
      s.due = absl::Now() + std::max(target.refresh, kMinRefresh);
      continue;
    }
    s.due = absl::Now() +
            std::max(r->ttl > absl::ZeroDuration() ? r->ttl : target.refresh, kMinRefresh);
    if (r->addresses == s.addresses) continue;
    s.addresses = r->addresses;
    spdlog::info("event=discovery.resolved cluster={} hostname={} addresses={} ttl_s={}",
                 target.cluster, target.hostname, s.addresses.size(), absl::ToInt64Seconds(r->ttl));
    std::vector<asio::ip::address> addresses = s.addresses;
    lock.unlock();
    on_change_(target.cluster, std::move(addresses));
    lock.lock();
  }
}

}  // namespace holdfast::edge
