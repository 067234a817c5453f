// The edge nodes' streams: hello, ACK, NACK, health reports and goodbyes, each bound to the node
// its hello named; and the snapshots sent to them.
#include <optional>
#include <string>

#include "common/cat.h"
#include "common/proto_time.h"
#include "control-plane/server/control_plane.h"
#include "policy/plan/planner.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {

absl::Status ControlPlane::RefuseHello(const Actor& peer, const v1::Hello& hello,
                                       const std::string& why) {
  std::lock_guard lock(mu_);
  return RefuseEdgeLocked(peer, "sync", hello.node(), hello.pop(), why, hellos_refused_);
}

absl::Status ControlPlane::RefuseEdgeLocked(const Actor& peer, const std::string& action,
                                            const std::string& node, const std::string& claimed,
                                            const std::string& why, uint64_t& counter) {
  ++counter;
  spdlog::warn("event=control.{}_refused node={} claimed=\"{}\" actor={} role={} reason=\"{}\"",
               action == "sync" ? "hello" : action, node.empty() ? "-" : node, claimed,
               peer.name.empty() ? "-" : peer.name, peer.role.empty() ? "-" : peer.role, why);
  if (absl::Status s = store_->Audit(AuditEntry{0, clock_(), peer, action, false, why}); !s.ok()) {
    spdlog::error("event=control.audit_failed error=\"{}\"", s.ToString());
  }
  return absl::PermissionDeniedError(why);
}

std::optional<std::string> ControlPlane::ConfiguredPopLocked(const std::string& name) const {
  if (config_ == nullptr) return std::nullopt;
  for (const v1::Pop& p : config_->pops()) {
    for (const v1::Node& n : p.nodes()) {
      if (n.name() == name) return p.name();
    }
  }
  return std::nullopt;
}

absl::Status ControlPlane::Hello(EdgeStream* stream, const Actor& peer, const v1::Hello& hello) {
  std::lock_guard lock(mu_);
  if (hello.node().empty()) {
    return RefuseEdgeLocked(peer, "sync", "", hello.pop(), "a hello must name its node",
                            hellos_refused_);
  }
  // The POP is the config's to say, not the node's. Before the first config there is nothing to
  // check against, and nothing is planned either; the config's POP applies from its first load.
  const std::optional<std::string> pop = ConfiguredPopLocked(hello.node());
  if (config_ != nullptr && !pop.has_value()) {
    return RefuseEdgeLocked(
        peer, "sync", hello.node(), hello.pop(),
        Cat("node ", hello.node(), " is not in config version ", version_, ": refused"),
        hellos_refused_);
  }
  // A node that serves an older version may name the POP that version gave it (a node moved
  // between POPs, before it has the move); one that serves the version in force may not.
  if (pop.has_value() && !hello.pop().empty() && hello.pop() != *pop &&
      hello.version() == version_) {
    return RefuseEdgeLocked(peer, "sync", hello.node(), hello.pop(),
                            Cat("node ", hello.node(), " is in POP ", *pop, " (config version ",
                                version_, "), not ", hello.pop(), ": refused"),
                            hellos_refused_);
  }
  Node& node = nodes_[hello.node()];
  if (node.stream != nullptr && node.stream != stream) {
    // One stream per node. The newer wins, and the older is ended with ABORTED, which its edge
    // (if it is still there) answers by reconnecting within its first backoff step (0.05-0.5 s,
    // edge/agent/control_client.h), taking the node back with a fresh hello and the plan. The
    // other choice, refusing the newer while the older lives, would lock a restarted edge out
    // for as long as its old connection looks alive (a half-open TCP connection after a crash
    // or a partition, until keepalive notices), and would let whoever connects first with the
    // node's certificate keep the real edge out; replacing never leaves a live edge deaf for
    // longer than one reconnection. Both streams hold the node's own certificate, so this only
    // ever concerns the node's own voice.
    ++streams_superseded_;
    const std::string why =
        Cat("stream of node ", hello.node(), " superseded by a newer stream of the same node");
    spdlog::warn("event=control.edge_superseded node={} actor={}", hello.node(),
                 peer.name.empty() ? "-" : peer.name);
    if (absl::Status s =
            store_->Audit(AuditEntry{0, clock_(), peer, "sync", true,
                                     Cat(why, "; the older was ended (ABORTED) to reconnect")});
        !s.ok()) {
      spdlog::error("event=control.audit_failed error=\"{}\"", s.ToString());
    }
    // gRPC runs the ended stream's OnDone (hence Gone) on another thread, never inside End: no
    // re-entry under mu_. Gone then finds the stream registered nowhere.
    node.stream->End(absl::AbortedError(Cat(why, ": reconnect")));
  }
  node.stream = stream;
  node.peer = peer;
  node.record.node = hello.node();
  node.record.pop = pop.value_or("");
  node.record.last_seen = clock_();
  // What it serves now (a persisted snapshot, after a restart) counts as acknowledged.
  if (hello.version() != 0) node.record.acked_version = static_cast<int64_t>(hello.version());
  spdlog::info("event=control.edge_connected node={} pop={} serving_version={} version={}",
               hello.node(), PopOfLocked(node), hello.version(), version_);
  SaveLocked(node);
  const uint64_t want = VersionForLocked(node);
  if (want != 0 && hello.version() != want) {
    SendCurrentLocked(node);
  } else {
    node.sent_version = hello.version();
  }
  if (plan_.has_value()) SendPlanLocked(node);
  return absl::OkStatus();
}

void ControlPlane::SendCurrentLocked(Node& node) {
  const uint64_t version = VersionForLocked(node);
  node.nonce = Cat(version, "-", ++pushes_);
  node.sent_version = version;
  v1::ControlMessage message;
  v1::ConfigSnapshot* snapshot = message.mutable_snapshot();
  snapshot->set_version(version);
  snapshot->set_nonce(node.nonce);
  *snapshot->mutable_config() = version == version_ ? bundle_ : previous_bundle_;
  node.stream->Send(message);
}

ControlPlane::Node* ControlPlane::FindLocked(EdgeStream* stream) {
  for (auto& [name, node] : nodes_) {
    if (node.stream == stream) return &node;
  }
  return nullptr;
}

void ControlPlane::Ack(EdgeStream* stream, const v1::Ack& ack) {
  std::lock_guard lock(mu_);
  Node* node = FindLocked(stream);
  if (node == nullptr || ack.nonce() != node->nonce) return;  // no hello, or a stale answer
  node->record.acked_version = static_cast<int64_t>(ack.version());
  if (node->record.nacked_version <= node->record.acked_version) {
    node->record.nacked_version = 0;
    node->record.nack_reason.clear();
  }
  node->record.last_seen = clock_();
  spdlog::info("event=control.edge_acked node={} version={}", node->record.node, ack.version());
  SaveLocked(*node);
  // The bake of a rollout's wave counts from its last ACK.
  rollout_.OnAck(PopOfLocked(*node), ack.version(), clock_());
}

void ControlPlane::Nack(EdgeStream* stream, const v1::Nack& nack) {
  std::lock_guard lock(mu_);
  Node* node = FindLocked(stream);
  if (node == nullptr || nack.nonce() != node->nonce) return;
  node->record.nacked_version = static_cast<int64_t>(nack.version());
  node->record.nack_reason = nack.reason();
  node->record.last_seen = clock_();
  spdlog::warn("event=control.edge_nacked node={} version={} reason=\"{}\"", node->record.node,
               nack.version(), nack.reason());
  SaveLocked(*node);
  // A NACK of a rollout's target rolls it back before it spreads.
  const absl::Time now = clock_();
  RunRolloutLocked(
      rollout_.OnNack(node->record.node, PopOfLocked(*node), nack.version(), nack.reason(), now),
      now);
}

absl::Status ControlPlane::Report(EdgeStream* stream, const v1::HealthReport& report) {
  std::lock_guard lock(mu_);
  Node* node = FindLocked(stream);
  if (node == nullptr) return absl::OkStatus();  // superseded (or no hello): not its voice now
  const std::string& name = node->record.node;
  if (!report.node().empty() && report.node() != name) {
    return RefuseEdgeLocked(node->peer, "report", name, report.node(),
                            Cat("stream of node ", name, " sent a report naming node ",
                                report.node(), ": refused, stream ended"),
                            reports_refused_);
  }
  const std::optional<std::string> pop = ConfiguredPopLocked(name);
  // A node that has not acknowledged the version in force may still serve a config that puts
  // it elsewhere; what it names is overwritten below anyway, so only a node that should know
  // better is refused.
  if (pop.has_value() && !report.pop().empty() && report.pop() != *pop &&
      static_cast<uint64_t>(node->record.acked_version) == version_) {
    return RefuseEdgeLocked(
        node->peer, "report", name, report.pop(),
        Cat("node ", name, " is in POP ", *pop, " (config version ", version_,
            "), its report named POP ", report.pop(), ": refused, stream ended"),
        reports_refused_);
  }
  const absl::Time now = clock_();
  v1::HealthReport stored = report;
  stored.set_node(name);
  if (pop.has_value()) node->record.pop = *pop;
  stored.set_pop(PopOfLocked(*node));
  // Freshness and "newest" are the control plane's to judge: the node's clock may be wrong, and
  // a report dated ahead would otherwise keep a silent node fresh (issue 24). Its `at` stays for
  // display and to measure the skew.
  *stored.mutable_received_at() = ToProtoTimestamp(now);
  const absl::Duration skew =
      report.has_at() ? FromProtoTime(report.at()) - now : absl::ZeroDuration();
  const bool skewed = absl::AbsDuration(skew) > kClockSkewWarning;
  if (skewed && !node->skewed) {
    spdlog::warn("event=control.clock_skew node={} skew={} limit={}", name,
                 absl::FormatDuration(skew), absl::FormatDuration(kClockSkewWarning));
  }
  node->skewed = skewed;
  // A change the planner acts on is planned at once: a POP that broke must not wait for the
  // next tick to leave.
  v1::HealthReport last;
  if (replan_wake_ && (node->record.report.empty() || !last.ParseFromString(node->record.report) ||
                       policy::ReportChanged(last, stored))) {
    replan_wake_();
  }
  // Kept in memory: reports come every few seconds from every node, and the store is written
  // with fsync. The last one is stored when the stream ends.
  node->record.report = stored.SerializeAsString();
  node->record.last_seen = now;
  return absl::OkStatus();
}

void ControlPlane::Gone(EdgeStream* stream) {
  std::lock_guard lock(mu_);
  Node* node = FindLocked(stream);
  if (node == nullptr) return;
  node->stream = nullptr;
  spdlog::info("event=control.edge_disconnected node={}", node->record.node);
  SaveLocked(*node);
}

void ControlPlane::EndStreams(const std::string& why) {
  std::lock_guard lock(mu_);
  for (auto& [name, node] : nodes_) {
    if (node.stream == nullptr) continue;
    // As for a superseded stream: OnDone (hence Gone) runs later on another thread and finds
    // the stream registered nowhere.
    node.stream->End(absl::UnavailableError(why));
    node.stream = nullptr;
    spdlog::info("event=control.edge_disconnected node={} reason=\"{}\"", name, why);
    SaveLocked(node);
  }
}

void ControlPlane::SaveLocked(const Node& node) {
  if (absl::Status s = store_->SaveEdge(node.record); !s.ok()) {
    spdlog::error("event=control.store_failed node={} error=\"{}\"", node.record.node,
                  s.ToString());
  }
}

std::string ControlPlane::PopOfLocked(const Node& node) const {
  return ConfiguredPopLocked(node.record.node).value_or(node.record.pop);
}

}  // namespace holdfast::control
