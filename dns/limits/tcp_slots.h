// Who may hold the DNS server's TCP connections: at most max_connections at once, at most
// max_per_client of them from one client, and when every slot is taken, room is made by closing
// the connection that has been idle the longest (RFC 7766 section 6.2.3: a server may close
// idle connections when it needs the resources). Without these, one address opening
// max_connections idle connections locked every other TCP client out until the idle timeout.
//
// A connection is idle while it waits for the first octet of its next message, and busy from
// that octet until its answer is written: closing a busy one would drop a query, so only idle
// ones are closed for room, and when none is idle the new connection is refused.
//
// Pure: no sockets and no clock (the order of events is the only time it needs). Not
// thread-safe: one per server (worker).
#ifndef HOLDFAST_DNS_LIMITS_TCP_SLOTS_H_
#define HOLDFAST_DNS_LIMITS_TCP_SLOTS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace holdfast::dns {

// The client a TCP connection counts against: the whole IPv4 address, or the /64 of an IPv6
// address. Not the RRL's /24 and /56 (rate_limiter.h): a TCP handshake proves the address, so
// there is no spoofing to see through, and a /24 is often one resolver farm or NAT pool whose
// hosts should not share one host's allowance. IPv6 by /64 because a host may use any address
// of its /64 (SLAAC and temporary addresses, RFC 8981), so per address would limit nothing,
// and a /64 is the smallest subnet a site gets (RFC 7421).
struct TcpClientKey {
  uint8_t family = 4;  // 4 or 6
  uint64_t prefix = 0;

  static TcpClientKey FromV4(const std::array<uint8_t, 4>& address);
  // An IPv4-mapped address (::ffff:a.b.c.d, a dual-stack listener) is keyed as the IPv4 one.
  static TcpClientKey FromV6(const std::array<uint8_t, 16>& address);

  friend bool operator==(const TcpClientKey&, const TcpClientKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const TcpClientKey& k) {
    return H::combine(std::move(h), k.family, k.prefix);
  }
};

struct TcpSlotsOptions {
  size_t max_connections = 1000;
  // 0: no limit per client.
  size_t max_per_client = 32;
};

class TcpSlots {
 public:
  using Id = uint64_t;
  enum class Verdict {
    kAdmit,
    // The client holds max_per_client already: refuse the new connection.
    kRefusePerClient,
    // Every slot is taken: close OldestIdle() to make room, or refuse when there is none.
    kFull,
  };

  explicit TcpSlots(const TcpSlotsOptions& options) : options_(options) {}

  // What to do with a new connection from `client`. The per-client limit comes first: a client
  // over it must not close another's idle connection to get in.
  Verdict Check(const TcpClientKey& client) const;
  // Takes a slot for a new connection from `client` (whatever Check() said: the caller
  // decides), idle until its first octet arrives. Ids are never reused.
  Id Add(const TcpClientKey& client);
  // Frees the slot. An unknown id (already removed) is ignored, so both whoever closes a
  // connection and the connection's own end may call it.
  void Remove(Id id);
  // The connection waits for its next message: idle from now, so the last to be closed for
  // room. Already idle: unchanged (its idle time runs on). Unknown id: ignored.
  void SetIdle(Id id);
  // A message is being read or answered: not to be closed for room. Unknown id: ignored.
  void SetBusy(Id id);

  // The connection idle the longest, if any is idle.
  std::optional<Id> OldestIdle() const;

  size_t size() const { return slots_.size(); }
  size_t idle() const { return idle_.size(); }
  // Connections held by `client`.
  size_t count(const TcpClientKey& client) const;

 private:
  struct Slot {
    TcpClientKey client;
    bool idle = true;
    // Its node in idle_ or busy_; moved between them with splice, so no allocation per query.
    std::list<Id>::iterator node;
  };

  TcpSlotsOptions options_;
  absl::flat_hash_map<Id, Slot> slots_;
  // Idle connections, the one idle the longest first.
  std::list<Id> idle_;
  std::list<Id> busy_;
  absl::flat_hash_map<TcpClientKey, size_t> per_client_;
  Id next_id_ = 1;
};

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_LIMITS_TCP_SLOTS_H_
