// The door of one cluster, shared by every worker: it admits a request while fewer than the
// limit are in flight and refuses the rest at once (never queues them), with the Retry-After
// the client should wait. The limit is adaptive (concurrency_limit.h) or the fixed circuit
// breaker, max_requests; the adaptive one never exceeds max_requests either.
//
// Retry-After spreads the refused clients' retries: over the last one to two seconds the gate
// counts how many requests it drained (answered, or has in flight and soon will) and how many
// it refused; the refused ones, retried evenly over T = refused / drained seconds, come back no
// faster than the backends drained them before. Each refusal gets T scaled by a random factor in
// [0.5, 1.5] (clients refused in the same moment do not come back in the same moment), rounded up,
// in [1, 60] s.
//
// Thread-safe: one mutex, held for a few arithmetic steps per request. The time comes from the
// caller (a steady clock), so tests drive it.
#ifndef HOLDFAST_EDGE_OVERLOAD_GATE_H_
#define HOLDFAST_EDGE_OVERLOAD_GATE_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "edge/overload/concurrency_limit.h"

namespace holdfast::edge {

// Why a request or connection was refused before it reached a backend.
enum class ShedReason {
  kConcurrencyLimit,  // the adaptive limit: the backends would queue it
  kMaxRequests,       // the circuit breaker on requests in flight
  kMaxConnections,    // the circuit breaker on connections to the cluster
};
inline constexpr size_t kShedReasons = 3;
// "concurrency_limit", "max_requests", "max_connections": metrics' and logs' names.
std::string_view ShedReasonName(ShedReason reason);

struct GateParams {
  // Off: max_requests alone bounds the requests in flight.
  bool adaptive = false;
  // limit.max_limit is max_requests.
  LimitParams limit;
};

struct GateStatus {
  bool adaptive = false;
  uint32_t limit = 0;
  uint32_t in_flight = 0;
  bool measuring = false;  // the adaptive limit is measuring min RTT
  Micros min_rtt{0};
  Micros sample_rtt{0};
  // Over the last one to two seconds: answers and refusals per second.
  double drained_per_second = 0;
  double refused_per_second = 0;
  uint64_t admitted = 0;
  std::array<uint64_t, kShedReasons> refused{};
};

class ClusterGate {
 public:
  ClusterGate(const GateParams& params, SteadyTime now, uint64_t seed);
  ClusterGate(const ClusterGate&) = delete;
  ClusterGate& operator=(const ClusterGate&) = delete;

  // An admitted request's place: released when it is finished or destroyed. Move-only.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept
        : gate_(std::exchange(other.gate_, nullptr)), epoch_(other.epoch_), since_(other.since_) {}
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { Finish(std::nullopt, std::nullopt); }

    // When it was admitted.
    SteadyTime since() const { return since_; }
    // The request is done at `now`; `rtt` is how long the backend took to answer it (nullopt:
    // it says nothing of the backend, e.g. the client went away).
    void Finish(std::optional<SteadyTime> now, std::optional<Micros> rtt);

   private:
    friend class ClusterGate;
    Ticket(ClusterGate* gate, uint64_t epoch, SteadyTime since)
        : gate_(gate), epoch_(epoch), since_(since) {}
    ClusterGate* gate_ = nullptr;
    uint64_t epoch_ = 0;
    SteadyTime since_;
  };

  struct Refusal {
    ShedReason reason = ShedReason::kConcurrencyLimit;
    std::chrono::seconds retry_after{1};
  };

  // A ticket, or why not and when to come back.
  std::variant<Ticket, Refusal> Admit(SteadyTime now);
  // Counts a refusal made elsewhere (the connection breaker) in the rates and totals, and
  // gives its Retry-After.
  Refusal Refuse(SteadyTime now, ShedReason reason);
  // New parameters (a reload): the learnt limit stays, clamped to the new bounds.
  void Reconfigure(const GateParams& params);
  // What the gate knows at `now`.
  GateStatus Status(SteadyTime now) const;

 private:
  void Release(std::optional<SteadyTime> now, uint64_t epoch, std::optional<Micros> rtt);
  // Under mu_.
  void AdvanceLocked(SteadyTime now);
  Refusal RefuseLocked(ShedReason reason);
  // Answers and refusals per second over the last whole window and the current one.
  std::pair<double, double> RatesLocked(SteadyTime now) const;
  uint32_t LimitLocked() const;

  mutable std::mutex mu_;
  GateParams params_;
  ConcurrencyLimit limit_;
  std::mt19937_64 random_;
  uint32_t in_flight_ = 0;
  uint64_t admitted_ = 0;
  std::array<uint64_t, kShedReasons> refused_{};
  // The rate windows: the current one, and the last whole one.
  struct Window {
    uint64_t drained = 0;
    uint64_t refused = 0;
    SteadyTime::duration length{0};
  };
  Window last_window_;
  SteadyTime window_start_;
  uint64_t window_drained_ = 0;
  uint64_t window_refused_ = 0;
};

// The gates of a node's clusters by name, for the process's life: a reload keeps what a
// cluster's gate has learnt, and the tickets of requests still running under the old config
// come back to the same gate. Thread-safe.
class GateRegistry {
 public:
  // The gate of cluster `name`: made with `params` on first use, else given them.
  ClusterGate* Get(const std::string& name, const GateParams& params, SteadyTime now);

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<ClusterGate>> gates_;
  std::random_device seeds_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_OVERLOAD_GATE_H_
