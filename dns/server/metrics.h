// The DNS server's counters: plain relaxed atomics, written by every server (one per worker)
// that shares the struct and read by whatever exports them (the edge's admin listener).
// Owned by the caller; must outlive the servers that count into it.
#ifndef HOLDFAST_DNS_SERVER_METRICS_H_
#define HOLDFAST_DNS_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace holdfast::dns {

struct ServerMetrics {
  // Query types counted apart; everything else is kQtypeOther.
  enum QtypeSlot : size_t {
    kQtypeA,
    kQtypeNs,
    kQtypeCname,
    kQtypeSoa,
    kQtypeMx,
    kQtypeTxt,
    kQtypeAaaa,
    kQtypeAny,
    kQtypeOther,
    kQtypeSlots,
  };
  static constexpr std::array<const char*, kQtypeSlots> kQtypeNames = {
      "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "ANY", "other"};
  static size_t SlotOf(uint16_t qtype);

  // Rcodes 0..15 by value; slot 16 holds every extended rcode (BADVERS).
  static constexpr size_t kRcodeSlots = 17;
  // Upper bounds of the latency buckets, in microseconds; the last bucket is unbounded.
  static constexpr std::array<uint32_t, 7> kLatencyBoundsUs = {10, 50, 100, 500, 1000, 5000, 10000};

  std::atomic<uint64_t> udp_queries{0};
  std::atomic<uint64_t> tcp_queries{0};
  std::array<std::atomic<uint64_t>, kQtypeSlots> queries_by_qtype{};
  std::array<std::atomic<uint64_t>, kRcodeSlots> responses_by_rcode{};
  // Responses sent with TC set because they did not fit (not counting RRL slips).
  std::atomic<uint64_t> truncated{0};
  // UDP answers to unproven clients cut to the amplification limit.
  std::atomic<uint64_t> amplification_truncated{0};
  // Service-name answers taken from the floor set because no POP served.
  std::atomic<uint64_t> fail_open_answers{0};
  std::atomic<uint64_t> rate_limited_dropped{0};
  std::atomic<uint64_t> rate_limited_slipped{0};
  // Messages that did not decode (answered FORMERR when they had a header).
  std::atomic<uint64_t> malformed{0};
  // Messages ignored: responses (QR set) and fragments shorter than a header.
  std::atomic<uint64_t> ignored{0};
  std::atomic<uint64_t> tcp_connections_accepted{0};
  // TCP connections closed at accept because every slot was taken and none was idle.
  std::atomic<uint64_t> tcp_connections_refused{0};
  // TCP connections closed at accept because their client held max_tcp_connections_per_client.
  std::atomic<uint64_t> tcp_connections_refused_per_client{0};
  // Idle TCP connections closed to make room for a new one.
  std::atomic<uint64_t> tcp_connections_evicted{0};
  std::atomic<uint64_t> tcp_connections_idle_closed{0};
  std::atomic<int64_t> tcp_connections_active{0};
  std::array<std::atomic<uint64_t>, kLatencyBoundsUs.size() + 1> latency{};
  // The sum of every recorded latency, for the histogram's _sum (mean = sum / count).
  std::atomic<uint64_t> latency_sum_ns{0};

  void RecordLatency(std::chrono::nanoseconds d);
};

inline void Inc(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_SERVER_METRICS_H_
