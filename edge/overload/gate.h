// The door of one cluster, shared by every worker: it admits a request while fewer than the
// limit are in flight; over it, the request waits for a place in a bounded queue (at most
// max_pending requests, none longer than pending_timeout) or is refused at once, with the
// Retry-After the client should wait. A request that would wait longer than pending_timeout,
// judged by how fast the gate drains, is refused at once rather than after the wait. The limit
// is adaptive (concurrency_limit.h) or the fixed circuit breaker, max_requests; the adaptive
// one never exceeds max_requests either.
//
// Critical requests (routes marked critical: health, login, what keeps the app alive) go first:
// they may exceed the adaptive limit by a quarter (at least one), never max_requests, and wait
// ahead of every normal request.
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
#include <vector>

#include "edge/overload/concurrency_limit.h"

namespace holdfast::edge {

// Why a request or connection was refused before it reached a backend.
enum class ShedReason {
  kConcurrencyLimit,  // the adaptive limit: the backends would queue it
  kMaxRequests,       // the circuit breaker on requests in flight
  kMaxConnections,    // the circuit breaker on connections to the cluster
  kMaxPending,        // over the limit with the queue full
  kPendingTimeout,    // over the limit, and waited (or would wait) longer than pending_timeout
};
inline constexpr size_t kShedReasons = 5;
// "concurrency_limit", "max_requests", "max_connections", "max_pending", "pending_timeout":
// metrics' and logs' names.
std::string_view ShedReasonName(ShedReason reason);

enum class Priority { kNormal, kCritical };

struct GateParams {
  // Off: max_requests alone bounds the requests in flight.
  bool adaptive = false;
  // limit.max_limit is max_requests.
  LimitParams limit;
  // The queue: at most max_pending requests wait, none longer than pending_timeout. Zero
  // pending_timeout: no queue, a request over the limit is refused at once.
  uint32_t max_pending = 0;
  Micros pending_timeout{0};
};

struct GateStatus {
  bool adaptive = false;
  uint32_t limit = 0;
  uint32_t in_flight = 0;
  uint32_t pending = 0;    // waiting in the queue
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

  // A request waiting in the queue: told of its place once it has one.
  class Waiter {
   public:
    virtual ~Waiter() = default;
    // Its place: called once, by whichever thread freed it, with no lock held. Must not block.
    virtual void Admitted(Ticket ticket) = 0;
  };

  // Queued: `waiter` gets its ticket by Admitted(), unless it gives up at `deadline`
  // (Abandon).
  struct Queued {
    uint64_t id = 0;
    SteadyTime deadline;
  };

  using Decision = std::variant<Ticket, Queued, Refusal>;

  // A ticket; or, over the limit, a place in the queue when `waiter` is given and the queue
  // takes it; else why not and when to come back.
  Decision Admit(SteadyTime now, Priority priority = Priority::kNormal,
                 std::shared_ptr<Waiter> waiter = nullptr);
  // Queued request `id` stops waiting (its deadline passed, or its client went away): its
  // refusal when it was still waiting; nullopt when its ticket is already on its way to
  // Admitted().
  std::optional<Refusal> Abandon(uint64_t id, SteadyTime now);
  // Counts a refusal made elsewhere (the connection breaker) in the rates and totals, and
  // gives its Retry-After.
  Refusal Refuse(SteadyTime now, ShedReason reason);
  // New parameters (a reload): the learnt limit stays, clamped to the new bounds.
  void Reconfigure(const GateParams& params);
  // What the gate knows at `now`.
  GateStatus Status(SteadyTime now) const;

 private:
  // A waiter given its place, told once the lock is released.
  struct Wakeup {
    std::shared_ptr<Waiter> waiter;
    Ticket ticket;
  };
  static constexpr size_t kCritical = static_cast<size_t>(Priority::kCritical);
  static constexpr size_t kNormal = static_cast<size_t>(Priority::kNormal);

  void Release(std::optional<SteadyTime> now, uint64_t epoch, std::optional<Micros> rtt);
  // Under mu_.
  void AdvanceLocked(SteadyTime now);
  Ticket AdmitLocked(SteadyTime now);
  // Gives places to those waiting, critical first, while the limit allows.
  void WakeLocked(std::vector<Wakeup>& wake);
  // Tells them, with no lock held.
  static void Deliver(std::vector<Wakeup>& wake);
  // The requests of `priority` that may be in flight.
  uint32_t LimitFor(Priority priority) const;
  // Whether a request of `priority` could wait within pending_timeout, judged by the drain
  // rate; true while nothing has drained to judge by.
  bool CouldWaitLocked(SteadyTime now, Priority priority) const;
  Refusal RefuseLocked(ShedReason reason);
  // Answers and refusals per second over the last whole window and the current one.
  std::pair<double, double> RatesLocked(SteadyTime now) const;

  mutable std::mutex mu_;
  GateParams params_;
  ConcurrencyLimit limit_;
  std::mt19937_64 random_;
  uint32_t in_flight_ = 0;
  uint64_t admitted_ = 0;
  // The queue, by priority, each in arrival order (ids grow).
  std::array<std::map<uint64_t, std::shared_ptr<Waiter>>, 2> pending_;
  // The latest time the gate was told: a place freed by a ticket destroyed without a time is
  // given then.
  SteadyTime last_now_;
  uint64_t next_pending_id_ = 1;
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
