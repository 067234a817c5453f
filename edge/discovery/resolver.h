// DNS-discovered clusters: their hostnames resolved with c-ares (A and AAAA; the hosts file
// first, then the system's resolvers), re-resolved when the answer's TTL runs out (or at the
// cluster's `refresh` when the answer carries none). A failed or empty resolution keeps the last
// good addresses: a DNS outage must not empty a cluster.
#ifndef HOLDFAST_EDGE_DISCOVERY_RESOLVER_H_
#define HOLDFAST_EDGE_DISCOVERY_RESOLVER_H_

#include <asio/ip/address.hpp>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace holdfast::edge {

struct Resolution {
  // Sorted, without duplicates.
  std::vector<asio::ip::address> addresses;
  // The smallest TTL of the answer; zero when it carried none (a hosts file entry).
  absl::Duration ttl;
};

// Resolves `hostname`, waiting at most `timeout`. `servers`, when not empty, replaces the
// system's resolvers ("127.0.0.1:5353,[::1]:53", c-ares' CSV form). NotFound when the name has
// no address, Unavailable on a resolver failure or timeout. Thread-safe.
[[nodiscard]] absl::StatusOr<Resolution> ResolveHost(const std::string& hostname,
                                                     absl::Duration timeout,
                                                     const std::string& servers = "");

// Resolves every target on its own thread and calls `on_change` (on that thread) with a
// cluster's new addresses whenever they differ from the last ones it reported.
class DiscoveryLoop {
 public:
  struct Target {
    std::string cluster;
    std::string hostname;
    absl::Duration refresh;
  };
  using OnChange =
      std::function<void(const std::string& cluster, std::vector<asio::ip::address> addresses)>;

  // `servers` as for ResolveHost().
  DiscoveryLoop(OnChange on_change, std::string servers)
      : on_change_(std::move(on_change)), servers_(std::move(servers)) {}
  ~DiscoveryLoop() { Stop(); }
  DiscoveryLoop(const DiscoveryLoop&) = delete;
  DiscoveryLoop& operator=(const DiscoveryLoop&) = delete;

  // Replaces the targets (a reload); a target already known keeps its addresses and schedule.
  // Thread-safe.
  void SetTargets(std::vector<Target> targets);
  void Start();
  // Returns once the thread has stopped. Idempotent.
  void Stop();

 private:
  struct State {
    Target target;
    std::vector<asio::ip::address> addresses;
    absl::Time due = absl::InfinitePast();
  };
  void Run();

  OnChange on_change_;
  std::string servers_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::map<std::string, State> states_;  // by cluster
  std::thread thread_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_DISCOVERY_RESOLVER_H_
