// BFD sessions on the wire: the state machines of bfd/session driven over UDP (RFC 5881 single
// hop, RFC 5883 multihop) on a thread of their own, so that no proxy or BGP load can delay a
// packet long enough for a router to think us gone.
//
//   auto speaker = Speaker::Create([](const PeerConfig& peer, const StateChange& change) {...});
//   speaker->Add({.local = A("127.0.1.1"), .peer = A("127.0.0.2"), .multihop = true});
//
// Each session sends from its own socket, bound to its local address and a source port in
// 49152-65535 with TTL (hop limit) 255; it receives on the local address's port 3784 (single
// hop) or 4784 (multihop), shared by the sessions of one address and bound with SO_REUSEADDR,
// so that a router on the same host (the lab's BIRD, on the wildcard address) keeps its own.
// Received packets are demultiplexed by Your Discriminator, or while it is 0 by the source
// address; a single-hop packet that did not arrive with TTL 255 (RFC 5881 section 5), a packet
// that does not decode, and one for no session or from another address than its session's peer
// are refused: counted by reason, logged at most once a second, and changing nothing.
//
// Thread-safe: Add, Remove and Status from any thread. The callback runs on the speaker's
// thread with no lock held; it must not block (the edge posts to its BGP strand).
#ifndef HOLDFAST_BFD_SPEAKER_SPEAKER_H_
#define HOLDFAST_BFD_SPEAKER_SPEAKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "bfd/session/session.h"
#include "common/net/ip.h"

namespace holdfast::bfd {

struct PeerConfig {
  net::IpAddress local;
  net::IpAddress peer;
  // RFC 5883 (port 4784, any TTL) instead of RFC 5881 (port 3784, TTL 255).
  bool multihop = false;
  // Desired Min TX and Required Min RX alike.
  Micros interval{100'000};
  uint8_t multiplier = 3;
};

struct StateChange {
  SessionState from = SessionState::kAdminDown;
  SessionState to = SessionState::kAdminDown;
  Diagnostic diagnostic = Diagnostic::kNone;
};

struct PeerStatus {
  PeerConfig config;
  uint32_t local_discriminator = 0;
  uint16_t source_port = 0;
  SessionStats stats;
};

// Packets refused before any session saw them, by reason.
struct RefusedPackets {
  uint64_t malformed = 0;     // did not decode (RFC 5880 section 6.8.6)
  uint64_t ttl = 0;           // single hop, TTL not 255
  uint64_t no_session = 0;    // Your Discriminator or source address of no session
  uint64_t wrong_source = 0;  // a session's discriminator from another address than its peer
};

class Speaker {
 public:
  using OnStateChange = std::function<void(const PeerConfig&, const StateChange&)>;

  // Starts the thread. Fails when the wake-up descriptor cannot be made.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Speaker>> Create(OnStateChange on_change);
  // Says AdminDown to every peer, once, and stops the thread.
  ~Speaker();
  Speaker(const Speaker&) = delete;
  Speaker& operator=(const Speaker&) = delete;

  // Opens the session's sockets (the errors come back here: address not local, port taken by
  // a process without SO_REUSEADDR) and starts it. One session per (local, peer, multihop).
  [[nodiscard]] absl::Status Add(const PeerConfig& peer);
  // Says AdminDown to the peer once and forgets the session. Unknown peers are ignored.
  void Remove(const net::IpAddress& local, const net::IpAddress& peer, bool multihop);
  std::vector<PeerStatus> Status() const;
  RefusedPackets refused() const;

 private:
  struct Entry;
  struct Receiver;
  using Key = std::tuple<std::string, std::string, bool>;  // local, peer, multihop

  explicit Speaker(OnStateChange on_change, int wake_fd);
  void Loop();
  void Wake();
  void ReceiveFrom(Receiver& receiver, TimePoint now,
                   std::vector<std::pair<PeerConfig, StateChange>>& changes);
  void Execute(Entry& entry, const std::vector<Action>& actions,
               std::vector<std::pair<PeerConfig, StateChange>>& changes);
  void Refuse(uint64_t& counter, const std::string& from, const std::string& why);
  void ReleaseReceiver(const std::string& local, bool multihop);

  const OnStateChange on_change_;
  const int wake_fd_;
  mutable std::mutex mu_;
  std::map<Key, std::unique_ptr<Entry>> sessions_;
  std::map<uint32_t, Entry*> by_discriminator_;
  std::map<std::pair<std::string, bool>, std::unique_ptr<Receiver>> receivers_;
  RefusedPackets refused_;
  TimePoint last_refusal_log_{};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace holdfast::bfd

#endif  // HOLDFAST_BFD_SPEAKER_SPEAKER_H_
