#include "control-plane/ctl/remote.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/file/read_file.h"
#include "common/proto_time.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "holdfast/v1/control.grpc.pb.h"
#include "policy/bundle.h"
#include "policy/config/loader.h"
#include "policy/finding.h"

namespace holdfast::ctl {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
// The governor refused an intent: distinct from 1 so a script can tell "try again with
// --break-glass, or not at all" from "you typed it wrong".
constexpr int kExitGovernor = 4;

using google::protobuf::util::TimeUtil;

struct Connection {
  std::string server = "127.0.0.1:7443";
  std::string ca;
  std::string cert;
  std::string key;
  bool insecure = false;
  std::string format = "text";
};

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", FromProtoTime(t), absl::UTCTimeZone());
}

void PrintJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, options);
  std::cout << json;
}

void PrintFindings(const google::protobuf::RepeatedPtrField<v1::Finding>& findings) {
  for (const v1::Finding& f : findings) {
    std::cout << f.location() << ": " << f.severity() << ": " << f.message() << " [" << f.code()
              << "]\n";
  }
}

// "drain", "withdraw", "ack-freeze".
std::string ActionName(v1::OperatorIntent::Action action) {
  switch (action) {
    case v1::OperatorIntent::ACTION_DRAIN:
      return "drain";
    case v1::OperatorIntent::ACTION_WITHDRAW:
      return "withdraw";
    case v1::OperatorIntent::ACTION_ACK_FREEZE:
      return "ack-freeze";
    default:
      return "action " + std::to_string(static_cast<int>(action));
  }
}

// What `plan` says of `intent`: "applied", or "REFUSED: why"; "-" when the plan predates it.
std::string IntentState(const v1::Plan& plan, const v1::OperatorIntent& intent) {
  for (const v1::Plan::IntentOutcome& o : plan.intents()) {
    if (!google::protobuf::util::MessageDifferencer::Equals(o.intent(), intent)) continue;
    return o.applied() ? o.explanation() : "REFUSED: " + o.explanation();
  }
  return "-";
}

// One line per intent in force: id, action, POP, prefix, author, time, reason, and what the plan
// made of it.
void PrintIntents(const google::protobuf::RepeatedPtrField<v1::StoredIntent>& intents,
                  const v1::Plan& plan, const std::string& indent) {
  if (intents.empty()) {
    std::cout << indent << "no intents in force\n";
    return;
  }
  std::printf("%s%-5s %-10s %-10s %-12s %-12s %-24s %s\n", indent.c_str(), "ID", "ACTION", "POP",
              "PREFIX", "AUTHOR", "TIME", "REASON");
  for (const v1::StoredIntent& s : intents) {
    const v1::OperatorIntent& i = s.intent();
    std::printf("%s%-5llu %-10s %-10s %-12s %-12s %-24s %s%s\n", indent.c_str(),
                static_cast<unsigned long long>(s.id()), ActionName(i.action()).c_str(),
                i.pop().c_str(), i.prefix().empty() ? "*" : i.prefix().c_str(), i.author().c_str(),
                Time(i.at()).c_str(), i.break_glass() ? "[break-glass] " : "", i.reason().c_str());
    std::cout << indent << "      plan: " << IntentState(plan, i) << "\n";
  }
}

// What `plan` says for `pop`: its state and the reason per prefix, and its DNS answers.
void PrintPopPlan(const v1::Plan& plan, const std::string& pop) {
  std::cout << "plan for " << pop << ":\n";
  for (const v1::Plan::PrefixPlan& p : plan.prefixes()) {
    for (const v1::Plan::PopDecision& d : p.pops()) {
      if (d.pop() != pop) continue;
      std::printf("  prefix %-16s %-10s %s  (%u announcing, floor %u)\n", p.prefix().c_str(),
                  v1::Plan::State_Name(d.state()).c_str(), d.reason().c_str(), p.announcing(),
                  p.floor());
    }
  }
  for (const v1::Plan::ServicePlan& sp : plan.services()) {
    for (const v1::Plan::Answer& a : sp.answers()) {
      if (a.pop() != pop) continue;
      std::printf("  dns    %-16s %-10s weight %u  %s\n", sp.name().c_str(), a.address().c_str(),
                  a.weight(), a.reason().c_str());
    }
  }
}

void PrintFreeze(const v1::Plan& plan) {
  if (plan.frozen()) {
    std::cout << "health-driven withdrawals: FROZEN since " << Time(plan.freeze_since()) << " ("
              << plan.freeze_evidence() << ")\n";
  } else if (plan.freeze_acknowledged()) {
    std::cout << "health-driven withdrawals: resumed (freeze since " << Time(plan.freeze_since())
              << " acknowledged)\n";
  } else {
    std::cout << "health-driven withdrawals: not frozen\n";
  }
}

}  // namespace

struct RemoteCommands::State {
  Connection connection;
  CLI::App* status_cmd = nullptr;
  CLI::App* plan_cmd = nullptr;
  CLI::App* apply_cmd = nullptr;
  CLI::App* rollback_cmd = nullptr;
  CLI::App* history_cmd = nullptr;
  CLI::App* show_cmd = nullptr;
  CLI::App* audit_cmd = nullptr;
  CLI::App* drain_cmd = nullptr;
  CLI::App* withdraw_cmd = nullptr;
  CLI::App* ack_freeze_cmd = nullptr;
  CLI::App* intents_cmd = nullptr;
  CLI::App* restore_cmd = nullptr;
  std::string pop;
  std::string prefix;
  bool break_glass = false;
  uint64_t intent_id = 0;
  std::vector<std::string> files;
  std::string reason;
  bool dry_run = false;
  bool all_at_once = false;
  uint64_t version = 0;
  uint32_t limit = 20;

  std::unique_ptr<v1::Operator::Stub> stub;

  int Fail(const grpc::Status& s) {
    const bool unreachable = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    std::cerr << "holdfastctl: " << (unreachable ? "cannot reach the control plane at " : "")
              << (unreachable ? connection.server + ": " : "") << s.error_message() << "\n";
    return unreachable ? kExitUnreachable : kExitRefused;
  }

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
    return context;
  }

  // Connects; nullopt when the credentials could be read, else the exit code.
  std::optional<int> Connect() {
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (connection.insecure) {
      credentials = grpc::InsecureChannelCredentials();
    } else {
      grpc::SslCredentialsOptions options;
      // Without --cert and --key the control plane knows no one: it answers every call with a
      // refusal (and audits it).
      if (connection.ca.empty() || connection.cert.empty() != connection.key.empty()) {
        std::cerr << "holdfastctl: give --ca, --cert and --key (mTLS), or --insecure\n";
        return kExitUsage;
      }
      // Without --cert (and so --key) the client presents no certificate: empty PEM.
      const bool mtls = !connection.cert.empty();
      absl::StatusOr<std::string> ca = ReadFile(connection.ca);
      absl::StatusOr<std::string> cert = mtls ? ReadFile(connection.cert) : std::string();
      absl::StatusOr<std::string> key = mtls ? ReadFile(connection.key) : std::string();
      if (!ca.ok() || !cert.ok() || !key.ok()) {
        std::cerr << "holdfastctl: cannot read --ca, --cert or --key\n";
        return kExitUsage;
      }
      options.pem_root_certs = *std::move(ca);
      options.pem_cert_chain = *std::move(cert);
      options.pem_private_key = *std::move(key);
      credentials = grpc::SslCredentials(options);
    }
    stub = v1::Operator::NewStub(grpc::CreateChannel(connection.server, credentials));
    return std::nullopt;
  }

  // The config of `files` as a bundle; nullopt on success, else the exit code.
  std::optional<int> Bundle(v1::ConfigBundle& out) {
    const policy::LoadedConfig loaded = policy::LoadConfig(files);
    for (const policy::Finding& f : loaded.findings) {
      if (f.code == policy::Code::kFileUnreadable || f.code == policy::Code::kIncludeError) {
        std::cerr << f.where.file << ":" << f.where.line << ":" << f.where.column
                  << ": error: " << f.message << "\n";
        return kExitRefused;
      }
    }
    absl::StatusOr<v1::ConfigBundle> bundle = policy::MakeBundle(loaded.sources.files());
    if (!bundle.ok()) {
      std::cerr << "holdfastctl: " << bundle.status().message() << "\n";
      return kExitRefused;
    }
    out = *std::move(bundle);
    return std::nullopt;
  }

  int RunStatus() {
    v1::StatusResponse response;
    if (const grpc::Status s = stub->Status(Context().get(), {}, &response); !s.ok()) {
      return Fail(s);
    }
    if (connection.format == "json") {
      PrintJson(response);
      return kExitOk;
    }
    std::cout << "version in force: " << response.version() << "\n";
    std::printf("%-10s %-14s %-10s %-8s %-28s %-24s %-9s %s\n", "POP", "NODE", "STREAM", "VERSION",
                "STATUS", "LAST SEEN", "SKEW", "HEALTH");
    for (const v1::NodeStatus& n : response.nodes()) {
      std::string status = n.acked_version() == response.version() ? "in sync" : "behind";
      if (n.nacked_version() != 0) status = "NACK " + std::to_string(n.nacked_version());
      uint32_t healthy = 0;
      uint32_t total = 0;
      for (const v1::ClusterHealth& c : n.report().clusters()) {
        healthy += c.healthy_endpoints();
        total += c.total_endpoints();
      }
      std::string health = "-";
      if (n.has_report()) {
        health = std::to_string(healthy) + "/" + std::to_string(total) + " endpoints, " +
                 std::to_string(n.report().open_connections()) + " connections";
        double refused = 0;
        double offered = 0;
        for (const v1::ClusterHealth& c : n.report().clusters()) {
          refused += c.refused_per_second();
          offered += c.drained_per_second() + c.refused_per_second();
        }
        if (refused > 0) {
          health +=
              absl::StrFormat(", overloaded: refusing %.0f of %.0f requests/s", refused, offered);
        }
        if (n.report().draining()) health += ", draining";
        if (!n.report().listeners_up()) health += ", listeners down";
        if (n.report().bgp_sessions_size() > 0) {
          int up = 0;
          for (const v1::BgpSession& b : n.report().bgp_sessions()) {
            up += b.state() == "established" ? 1 : 0;
          }
          health += ", bgp " + std::to_string(up) + "/" +
                    std::to_string(n.report().bgp_sessions_size()) + " established";
        }
      }
      // The node's clock against the control plane's, on its last report.
      const double skew = static_cast<double>(n.clock_skew().seconds()) +
                          static_cast<double>(n.clock_skew().nanos()) / 1e9;
      const std::string skew_text = n.has_clock_skew() ? absl::StrFormat("%+.1fs", skew) : "-";
      std::printf("%-10s %-14s %-10s %-8llu %-28s %-24s %-9s %s\n", n.pop().c_str(),
                  n.node().c_str(), n.connected() ? "connected" : "gone",
                  static_cast<unsigned long long>(n.acked_version()), status.c_str(),
                  Time(n.last_seen()).c_str(), skew_text.c_str(), health.c_str());
      if (n.nacked_version() != 0) std::cout << "    refused: " << n.nack_reason() << "\n";
      if (n.clock_skew_warning()) {
        std::cout << "    WARNING: clock skew " << skew_text << " (the node's clock is "
                  << (skew > 0 ? "ahead of" : "behind") << " the control plane's; its health is "
                  << "judged by when its reports arrive, but its own timestamps mislead)\n";
      }
      // Each BGP session as the node last reported it.
      for (const v1::BgpSession& b : n.report().bgp_sessions()) {
        std::cout << "    bgp " << b.peer() << " AS" << b.asn() << " " << b.state();
        if (b.state() == "established") {
          std::cout << " for " << absl::FormatDuration(absl::Seconds(b.uptime_seconds()));
        }
        std::cout << ", prefixes sent " << b.prefixes_sent() << ", received "
                  << b.prefixes_received();
        if (!b.last_error().empty()) std::cout << ", last error: " << b.last_error();
        if (!b.bfd_state().empty()) {
          std::cout << ", bfd " << b.bfd_state();
          if (!b.bfd_last_down().empty()) std::cout << " (last down: " << b.bfd_last_down() << ")";
        }
        std::cout << "\n";
      }
    }
    const v1::EdgeStreamCounters& streams = response.edge_streams();
    if (streams.hellos_refused() + streams.reports_refused() + streams.streams_superseded() > 0) {
      std::cout << "edge streams since start: " << streams.hellos_refused() << " hellos refused, "
                << streams.reports_refused() << " reports refused, " << streams.streams_superseded()
                << " superseded (holdfastctl audit says why)\n";
    }
    if (response.has_plan()) {
      // The plan in force, one line per prefix: which POPs announce it and why the others do not.
      std::cout << "\nannouncement plan:\n";
      for (const v1::Plan::PrefixPlan& p : response.plan().prefixes()) {
        std::cout << "  " << p.prefix() << " (" << p.announcing() << " announcing, floor "
                  << p.floor() << "):";
        for (const v1::Plan::PopDecision& d : p.pops()) {
          std::cout << "  " << d.pop() << " " << v1::Plan::State_Name(d.state())
                    << (d.depreferred() ? " depreferred" : "");
          if (d.state() != v1::Plan::ANNOUNCED) std::cout << " (" << d.reason() << ")";
        }
        std::cout << "\n";
      }
      for (const v1::Plan::Alarm& a : response.plan().alarms()) {
        std::cout << "  ALARM " << a.kind() << ": " << a.message() << "\n";
      }
    }
    if (!response.intents().empty()) {
      std::cout << "\noperator intents in force:\n";
      PrintIntents(response.intents(), response.plan(), "  ");
    }
    if (response.has_rollout()) PrintRollout(response.rollout());
    return kExitOk;
  }

  // The rollout under way (each wave's state), or how the last one ended.
  static void PrintRollout(const v1::RolloutStatus& r) {
    const bool running = r.state() == v1::RolloutStatus::RUNNING;
    std::cout << "\n"
              << (running ? "rollout under way" : "last rollout") << ": version "
              << r.target_version() << " (previous " << r.previous_version() << "), started "
              << Time(r.started()) << ", bake time "
              << absl::FormatDuration(FromProtoDuration(r.bake_time())) << "\n";
    if (!running) {
      std::string state = v1::RolloutStatus::State_Name(r.state());
      std::transform(state.begin(), state.end(), state.begin(),
                     [](unsigned char c) { return c == '_' ? ' ' : std::tolower(c); });
      std::cout << "  " << state << " at " << Time(r.finished()) << ": " << r.outcome() << "\n";
    }
    for (int i = 0; i < r.waves_size(); ++i) {
      const v1::RolloutWaveStatus& w = r.waves(i);
      std::string pops;
      for (const std::string& p : w.pops()) pops += (pops.empty() ? "" : ", ") + p;
      std::cout << "  " << (running && static_cast<uint32_t>(i) == r.current_wave() ? "> " : "  ")
                << "wave " << w.name() << " [" << pops << "]: " << w.state();
      if (w.state() == "baking") std::cout << " until " << Time(w.bake_until());
      if (w.state() == "done") std::cout << " at " << Time(w.done());
      if (!w.waiting_for().empty()) std::cout << " (" << w.waiting_for() << ")";
      std::cout << "\n";
    }
  }

  // drain, withdraw, ack-freeze: one intent to the control plane, then what the plan says now.
  int RunAddIntent(v1::OperatorIntent::Action action) {
    v1::AddIntentRequest request;
    v1::OperatorIntent* intent = request.mutable_intent();
    intent->set_action(action);
    intent->set_pop(pop);
    intent->set_prefix(prefix);
    intent->set_reason(reason);
    intent->set_break_glass(break_glass);
    v1::IntentsResponse response;
    if (const grpc::Status s = stub->AddIntent(Context().get(), request, &response); !s.ok()) {
      return Fail(s);
    }
    const bool applied = response.outcome().applied();
    if (connection.format == "json") {
      PrintJson(response);
      return applied ? kExitOk : kExitGovernor;
    }
    const std::string what = ActionName(action) + (pop.empty() ? "" : " " + pop) +
                             (prefix.empty() ? "" : " prefix " + prefix);
    if (!applied) {
      // The planner's explanation starts with "refused: " when it refused; said once here.
      std::string why = response.outcome().explanation();
      if (why.starts_with("refused: ")) why = why.substr(sizeof("refused: ") - 1);
      std::cerr << "holdfastctl: the governor refused " << what << ": " << why
                << "; nothing changed"
                << (action != v1::OperatorIntent::ACTION_ACK_FREEZE && !break_glass
                        ? " (--break-glass overrides the floor, with an alarm)"
                        : "")
                << "\n";
    } else if (response.changed().id() != 0) {
      std::cout << "intent " << response.changed().id() << " in force: " << what << " ("
                << response.outcome().explanation() << ")\n";
    } else {
      std::cout << what << ": " << response.outcome().explanation() << "\n";
    }
    if (action == v1::OperatorIntent::ACTION_ACK_FREEZE) {
      PrintFreeze(response.plan());
    } else {
      PrintPopPlan(response.plan(), pop);
    }
    for (const v1::Plan::Alarm& a : response.plan().alarms()) {
      std::cout << "ALARM " << a.kind() << ": " << a.message() << "\n";
    }
    return applied ? kExitOk : kExitGovernor;
  }
  int RunDrain() { return RunAddIntent(v1::OperatorIntent::ACTION_DRAIN); }
  int RunWithdraw() { return RunAddIntent(v1::OperatorIntent::ACTION_WITHDRAW); }
  int RunAckFreeze() { return RunAddIntent(v1::OperatorIntent::ACTION_ACK_FREEZE); }

  int RunRestore() {
    v1::RemoveIntentRequest request;
    request.set_id(intent_id);
    request.set_reason(reason);
    v1::IntentsResponse response;
    if (const grpc::Status s = stub->RemoveIntent(Context().get(), request, &response); !s.ok()) {
      return Fail(s);
    }
    if (connection.format == "json") {
      PrintJson(response);
      return kExitOk;
    }
    const v1::OperatorIntent& removed = response.changed().intent();
    std::cout << "intent " << intent_id << " removed: " << ActionName(removed.action()) << " "
              << removed.pop() << (removed.prefix().empty() ? "" : " prefix " + removed.prefix())
              << "\n";
    PrintPopPlan(response.plan(), removed.pop());
    return kExitOk;
  }

  int RunIntents() {
    v1::IntentsResponse response;
    if (const grpc::Status s = stub->ListIntents(Context().get(), {}, &response); !s.ok()) {
      return Fail(s);
    }
    if (connection.format == "json") {
      PrintJson(response);
      return kExitOk;
    }
    PrintIntents(response.intents(), response.plan(), "");
    if (response.has_plan()) PrintFreeze(response.plan());
    return kExitOk;
  }

  // Plans `files`; fills `plan`. nullopt when the plan came back, else the exit code.
  std::optional<int> Plan(v1::ChangeRequest& request, v1::PlanResponse& plan) {
    if (auto code = Bundle(*request.mutable_config())) return code;
    if (const grpc::Status s = stub->Plan(Context().get(), request, &plan); !s.ok()) {
      return Fail(s);
    }
    if (connection.format == "json") {
      PrintJson(plan);
      return std::nullopt;
    }
    PrintFindings(plan.findings());
    if (!plan.valid()) {
      std::cerr << "holdfastctl: the config does not validate; nothing changes\n";
      return std::nullopt;
    }
    std::cout << "against version " << plan.base_version() << ":\n";
    if (plan.diff().empty()) std::cout << "  no change\n";
    for (const std::string& line : plan.diff()) std::cout << "  " << line << "\n";
    return std::nullopt;
  }

  int RunPlan() {
    v1::ChangeRequest request;
    v1::PlanResponse plan;
    if (auto code = Plan(request, plan)) return *code;
    return plan.valid() ? kExitOk : kExitRefused;
  }

  int RunApply() {
    v1::ChangeRequest request;
    request.set_reason(reason);
    v1::PlanResponse plan;
    if (auto code = Plan(request, plan)) return *code;
    if (!plan.valid()) return kExitRefused;
    if (dry_run) return kExitOk;
    request.set_base_version(plan.base_version());
    request.set_all_at_once(all_at_once);
    v1::ApplyResponse response;
    if (const grpc::Status s = stub->Apply(Context().get(), request, &response); !s.ok()) {
      return Fail(s);
    }
    if (connection.format == "json") {
      PrintJson(response);
    } else {
      std::cout << "applied as version " << response.version()
                << (all_at_once ? ", pushed to every edge at once\n" : "\n");
    }
    return kExitOk;
  }

  int RunRollback() {
    v1::StatusResponse status;
    if (const grpc::Status s = stub->Status(Context().get(), {}, &status); !s.ok()) {
      return Fail(s);
    }
    v1::RollbackRequest request;
    request.set_version(version);
    request.set_reason(reason);
    request.set_base_version(status.version());
    v1::ApplyResponse response;
    if (const grpc::Status s = stub->Rollback(Context().get(), request, &response); !s.ok()) {
      return Fail(s);
    }
    if (connection.format == "json") {
      PrintJson(response);
    } else {
      std::cout << "rolled back: version " << response.version() << " is in force\n";
    }
    return kExitOk;
  }

  int RunHistory() {
    v1::HistoryRequest request;
    request.set_limit(limit);
    v1::HistoryResponse response;
    if (const grpc::Status s = stub->History(Context().get(), request, &response); !s.ok()) {
      return Fail(s);
    }
    if (connection.format == "json") {
      PrintJson(response);
      return kExitOk;
    }
    for (const v1::VersionInfo& v : response.versions()) {
      std::cout << v.version() << "  " << Time(v.created()) << "  " << v.author() << "  "
                << (v.restores() != 0 ? "rollback to " + std::to_string(v.restores()) + ": " : "")
                << v.reason() << "\n";
    }
    return kExitOk;
  }

  int RunShow() {
    v1::ShowRequest request;
    request.set_version(version);
    v1::ShowResponse response;
    if (const grpc::Status s = stub->Show(Context().get(), request, &response); !s.ok()) {
      return Fail(s);
    }
    if (connection.format == "json") {
      PrintJson(response);
      return kExitOk;
    }
    std::cout << "# version " << response.info().version() << " by " << response.info().author()
              << " at " << Time(response.info().created()) << ": " << response.info().reason()
              << "\n";
    for (const v1::ConfigBundle::File& f : response.config().files()) {
      std::cout << "# --- " << f.path() << "\n" << f.content();
      if (!f.content().empty() && f.content().back() != '\n') std::cout << "\n";
    }
    return kExitOk;
  }

  int RunAudit() {
    v1::AuditRequest request;
    request.set_limit(limit);
    v1::AuditResponse response;
    if (const grpc::Status s = stub->Audit(Context().get(), request, &response); !s.ok()) {
      return Fail(s);
    }
    if (connection.format == "json") {
      PrintJson(response);
      return kExitOk;
    }
    for (const v1::AuditEntry& e : response.entries()) {
      std::cout << Time(e.time()) << "  " << (e.allowed() ? "ok     " : "REFUSED") << "  "
                << (e.actor().empty() ? "anonymous" : e.actor()) << " ("
                << (e.role().empty() ? "-" : e.role()) << ")  " << e.action() << "  " << e.detail()
                << "\n";
    }
    return kExitOk;
  }
};

RemoteCommands::RemoteCommands(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
  auto connect = [&s](CLI::App* cmd) {
    cmd->add_option("--server", s.connection.server, "The control plane, HOST:PORT")
        ->envname("HOLDFAST_SERVER")
        ->capture_default_str();
    cmd->add_option("--ca", s.connection.ca, "CA of the control plane's certificate (PEM)")
        ->envname("HOLDFAST_CA");
    cmd->add_option("--cert", s.connection.cert, "Your certificate (PEM); its OU is your role")
        ->envname("HOLDFAST_CERT");
    cmd->add_option("--key", s.connection.key, "Your private key (PEM)")->envname("HOLDFAST_KEY");
    cmd->add_flag("--insecure", s.connection.insecure,
                  "Plaintext, for a control plane started with --insecure (local lab)");
    cmd->add_option("--format", s.connection.format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    return cmd;
  };
  s.status_cmd = connect(app.add_subcommand(
      "status",
      "The version in force, and every edge node: its stream, the version it "
      "acknowledged or refused (and why), when it was last heard of, its health; the "
      "rollout under way (target, previous version, each wave's state) or how the last "
      "one ended."));
  s.plan_cmd = connect(app.add_subcommand(
      "plan",
      "Validate a config on the control plane and show what it would change against "
      "the version in force (routes, clusters, POPs, prefixes, DNS names), without "
      "applying it."));
  s.plan_cmd->add_option("CONFIG", s.files, "The config's top-level file (includes follow)")
      ->required();
  s.apply_cmd = connect(app.add_subcommand(
      "apply",
      "Plan a config, then store it as the new version in force and roll it out in the "
      "waves of its safety.rollout (canary POP first; each wave gated on ACKs, bake time and "
      "health; rolled back automatically on a NACK or a regression). Refused when another "
      "version landed since the plan, or while another one is still rolling out."));
  s.apply_cmd->add_option("CONFIG", s.files, "The config's top-level file (includes follow)")
      ->required();
  s.apply_cmd->add_option("--reason", s.reason, "Why: kept in the history and the audit log")
      ->required();
  s.apply_cmd->add_flag("--dry-run", s.dry_run, "Plan only (the same as holdfastctl plan)");
  s.apply_cmd->add_flag("--all-at-once", s.all_at_once,
                        "Skip the waves: push to every edge at once (audited as such; ends a "
                        "rollout under way)");
  s.rollback_cmd = connect(
      app.add_subcommand("rollback",
                         "Make an earlier version's config the one in force again (as a new "
                         "version): by default the one before the version in force. An "
                         "emergency exit: it goes to every edge at once, without waves, and "
                         "ends a rollout under way."));
  s.rollback_cmd->add_option("VERSION", s.version, "The version to restore");
  s.rollback_cmd->add_option("--reason", s.reason, "Why: kept in the history and the audit log")
      ->required();
  s.history_cmd = connect(app.add_subcommand("history", "Config versions, newest first."));
  s.history_cmd->add_option("--limit", s.limit, "How many")->capture_default_str();
  s.show_cmd = connect(app.add_subcommand("show", "One version's config files."));
  s.show_cmd->add_option("VERSION", s.version, "The version (default: the one in force)");
  s.audit_cmd = connect(app.add_subcommand(
      "audit", "The audit log, newest first: every apply and rollback, and every refusal."));
  s.audit_cmd->add_option("--limit", s.limit, "How many")->capture_default_str();

  // Operator intents: the help says what the governor does with each, and when it exits 4.
  constexpr const char* kGovernor =
      " The safety governor applies it only when every prefix and DNS name of the POP keeps its "
      "floor of announcing POPs without it; otherwise nothing changes and holdfastctl exits 4 "
      "(--break-glass applies it anyway, with an alarm in the plan and the audit log). It stays in "
      "force, across control-plane restarts, until `holdfastctl restore ID`, and every plan "
      "applies it through the floor again. Prints what the plan now says for the POP.";
  auto intent_cmd = [&](const char* name, const std::string& help) {
    CLI::App* cmd = connect(app.add_subcommand(name, help + kGovernor));
    cmd->add_option("POP", s.pop, "The POP")->required();
    cmd->add_option("--prefix", s.prefix, "Only this prefix (by name); default every prefix")
        ->type_name("NAME");
    cmd->add_option("--reason", s.reason,
                    "Why: kept with the intent, in the plan and the audit log")
        ->required();
    cmd->add_flag("--break-glass", s.break_glass,
                  "Apply it even when it breaks a floor (a reason is required; raises an alarm)");
    return cmd;
  };
  s.drain_cmd = intent_cmd(
      "drain",
      "Drain a POP: it keeps announcing its prefixes, with the GRACEFUL_SHUTDOWN community "
      "(RFC 8326) so routers move traffic elsewhere, and leaves the DNS answers.");
  s.withdraw_cmd = intent_cmd("withdraw", "Withdraw a POP's prefixes from BGP and DNS.");
  s.ack_freeze_cmd = connect(app.add_subcommand(
      "ack-freeze",
      "Acknowledge the correlated-failure freeze in force: health-driven withdrawals resume, and "
      "this spell of failures freezes nothing again until health recovers. Exits 4 when nothing "
      "is frozen. Consumed by the plan it is given to (it is not listed by `intents`)."));
  s.ack_freeze_cmd->add_option("--reason", s.reason, "Why: kept in the plan and the audit log")
      ->required();
  s.intents_cmd = connect(app.add_subcommand(
      "intents",
      "The operator intents in force, oldest first (the order the planner applies them): id, "
      "action, POP, prefix (* for all), author, time, reason, and what the plan in force made "
      "of each (applied, or refused and why); then whether health-driven withdrawals are "
      "frozen."));
  s.restore_cmd = connect(app.add_subcommand(
      "restore",
      "Remove operator intent ID (see `holdfastctl intents`): the POP announces again as health "
      "and the other intents say. Replans at once and prints what the plan now says for the "
      "POP."));
  s.restore_cmd->add_option("ID", s.intent_id, "The intent's id")->required();
  s.restore_cmd->add_option("--reason", s.reason, "Why: kept in the audit log")->required();
}

RemoteCommands::~RemoteCommands() = default;

std::optional<int> RemoteCommands::Run() {
  State& s = *state_;
  int (State::*run)() = nullptr;
  if (s.status_cmd->parsed()) run = &State::RunStatus;
  if (s.plan_cmd->parsed()) run = &State::RunPlan;
  if (s.apply_cmd->parsed()) run = &State::RunApply;
  if (s.rollback_cmd->parsed()) run = &State::RunRollback;
  if (s.history_cmd->parsed()) run = &State::RunHistory;
  if (s.show_cmd->parsed()) run = &State::RunShow;
  if (s.audit_cmd->parsed()) run = &State::RunAudit;
  if (s.drain_cmd->parsed()) run = &State::RunDrain;
  if (s.withdraw_cmd->parsed()) run = &State::RunWithdraw;
  if (s.ack_freeze_cmd->parsed()) run = &State::RunAckFreeze;
  if (s.intents_cmd->parsed()) run = &State::RunIntents;
  if (s.restore_cmd->parsed()) run = &State::RunRestore;
  if (run == nullptr) return std::nullopt;
  if (auto code = s.Connect()) return code;
  return (s.*run)();
}

}  // namespace holdfast::ctl
