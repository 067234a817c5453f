// The authoritative DNS server: UDP and TCP on one address and port, on a caller's
// asio::io_context (the edge runs one per worker; every worker binds the same port with
// SO_REUSEPORT and the kernel spreads the load).
//
// - Answers come from the caller's Snapshot<DnsData>, read once per query: a swap applies to
//   the next query, never half of one (CONVENTIONS.md, "Values and snapshots").
// - UDP: 512 octets without EDNS, else the client's size clamped to [512, max_udp_size]
//   (RFC 6891 section 6.2.5); larger answers are truncated (TC) and the client retries over
//   TCP. A client whose address is not proven (not in trusted_prefixes and no TCP connection
//   from its prefix yet) gets at most amplification_factor times its query's size, so holdfast
//   is no use as a reflector. Rate limiting per prefix with slip (rate_limiter.h).
// - TCP (RFC 7766): 2-octet length framing, several queries per connection answered in
//   order, an idle timeout, at most max_tcp_connections at once and max_tcp_connections_per_client
//   from one client (tcp_slots.h). When every slot is taken, the connection idle the longest is
//   closed to make room (RFC 7766 section 6.2.3); only when none is idle is the new one closed
//   at accept.
// - Never answers a message with QR set (no loops between servers); bytes with a header that
//   do not decode get FORMERR.
//
// Threading: Create(), Start() and Stop() on any thread before run() or on the io_context's
// thread; the server's work runs on the io_context alone. Lifetime: the snapshot and metrics
// must outlive the io_context's handlers; the Server object itself may go first (its state is
// shared with its coroutines).
#ifndef HOLDFAST_DNS_SERVER_SERVER_H_
#define HOLDFAST_DNS_SERVER_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

// Asio after a standard header: it picks its allocator (aligned_alloc or operator new) from
// libstdc++'s macros, and every translation unit must pick the same one, or ASan reports
// alloc-dealloc mismatches.
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>

#include "absl/status/statusor.h"
#include "common/net/ip.h"
#include "common/snapshot.h"
#include "dns/answer/engine.h"
#include "dns/limits/rate_limiter.h"
#include "dns/server/metrics.h"

namespace holdfast::dns {

struct ServerOptions {
  asio::ip::address address = asio::ip::address_v4::loopback();
  // 0 picks a free port (the same for UDP and TCP); see Server::port().
  uint16_t port = 0;
  // The most we send over UDP and advertise in our OPT; 1232 avoids fragmentation.
  uint16_t max_udp_size = 1232;
  // Both per server, so per worker in the edge (SO_REUSEPORT spreads a client's connections
  // over the workers).
  size_t max_tcp_connections = 1000;
  // Per IPv4 address or IPv6 /64 (TcpClientKey); 0 turns it off. RFC 7766 section 6.2.2 asks a
  // client for one connection to a server, so 32 leaves room for a NAT or a resolver whose
  // threads each open their own, while 1000 slots take at least 32 addresses to fill.
  size_t max_tcp_connections_per_client = 32;
  // RFC 7766 section 6.2.3 suggests a few seconds between queries on an idle connection.
  std::chrono::milliseconds tcp_idle_timeout{10000};
  RateLimitOptions rate_limit;
  // UDP responses to unproven clients are at most this many times the query's size
  // (truncated beyond); 0 turns the limit off.
  uint32_t amplification_factor = 10;
  // Clients whose addresses count as proven from the start (resolvers we know).
  std::vector<net::IpPrefix> trusted_prefixes;
  // Seed of the random choice among service-name VIPs (each worker its own).
  uint64_t random_seed = 1;
};

class Server {
 public:
  // Opens and binds the UDP and TCP sockets (SO_REUSEPORT). Unavailable when they cannot be.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Server>> Create(asio::io_context& io,
                                                                      const ServerOptions& options,
                                                                      const Snapshot<DnsData>& data,
                                                                      ServerMetrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Spawns the UDP receive loop and the TCP accept loop on the io_context.
  void Start();
  // Closes the listening sockets and every TCP connection; the loops end. Thread-safe (posts
  // to the io_context).
  void Stop();

  uint16_t port() const { return port_; }

  struct State;

 private:
  explicit Server(std::shared_ptr<State> state, uint16_t port)
      : state_(std::move(state)), port_(port) {}

  std::shared_ptr<State> state_;
  uint16_t port_ = 0;
};

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_SERVER_SERVER_H_
