// The edge's counters, shared by every worker and read by the admin listener's /metrics.
// Relaxed atomics: each increment is independent, a scrape may see one worker a moment ahead of
// another, and nothing on the request path waits for a lock. Thread-safe.
#ifndef HOLDFAST_EDGE_SERVER_METRICS_H_
#define HOLDFAST_EDGE_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "dns/server/metrics.h"

namespace holdfast::edge {

using Counter = std::atomic<uint64_t>;

inline void Inc(Counter& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
inline void Dec(Counter& c) { c.fetch_sub(1, std::memory_order_relaxed); }
inline uint64_t Read(const Counter& c) { return c.load(std::memory_order_relaxed); }

// Request latency from the first byte of the head to the last byte of the response.
class LatencyHistogram {
 public:
  // Upper bounds in seconds, Prometheus "le" labels.
  static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1.0,  5.0};
  void Observe(absl::Duration d);
  // Prometheus text lines for a histogram named `name` with extra `labels` ("" or "a=\"b\"").
  void Write(const std::string& name, const std::string& labels, std::string& out) const;

 private:
  std::array<Counter, kBounds.size() + 1> buckets_{};  // the last one is +Inf
  Counter count_{0};
  Counter sum_micros_{0};
};

struct ListenerMetrics {
  Counter accepted{0};
  Counter active{0};
  // Of the active ones: idle keep-alive connections parked (parking.h).
  Counter parked{0};
  // Refused at accept: the listener's max_connections was reached.
  Counter refused{0};
  Counter requests{0};
  // By status class 1xx..5xx (index 1..5).
  std::array<Counter, 6> responses{};
  // Requests refused by the parser (smuggling vectors, malformed heads, limits).
  Counter bad_requests{0};
  // Requests answered 429: their client was over the listener's client_rate_limit.
  Counter rate_limited{0};
  // TLS handshakes that failed or timed out (tls and https listeners).
  Counter tls_handshake_failures{0};
  LatencyHistogram latency;
  // dns listeners: what their servers count, over every worker.
  dns::ServerMetrics dns;
};

struct ClusterMetrics {
  Counter upstream_requests{0};
  Counter active_requests{0};
  Counter active_connections{0};
  Counter connect_failures{0};
  Counter retries{0};
  Counter no_endpoint{0};
  // Picks made while the cluster was in panic mode (balancing over every endpoint).
  Counter panic_picks{0};
  Counter timeouts{0};
  // Backend connections closed because the backend broke HTTP/1.1 framing between requests:
  // bytes after a complete response, or bytes on a connection idle in the pool (RFC 9112
  // section 6.3). Never reused: such bytes would answer the next client's request.
  Counter protocol_errors{0};
  // When a protocol error was last logged (steady clock, ns): a backend that breaks framing on
  // every response gets one log line a second, the counter gets them all.
  std::atomic<int64_t> protocol_error_logged{0};
};

// True at most once per second for `last` (steady clock, ns): whether to log a sample of a
// fault that may come with every request. Thread-safe.
bool TakeLogSample(std::atomic<int64_t>& last);

// Listeners by index (the set is fixed for the process's life); clusters by name, so their
// counters go on across reloads that add, remove or reorder clusters.
class EdgeMetrics {
 public:
  explicit EdgeMetrics(size_t listeners) : listener(listeners) {}

  std::vector<ListenerMetrics> listener;

  // The counters of the cluster named `name`, made on first use. Never removed, so the
  // pointer stays valid for the process's life. Thread-safe (called when a config is compiled).
  ClusterMetrics* Cluster(const std::string& name);

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<ClusterMetrics>> clusters_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_METRICS_H_
