#include "control-plane/server/services.h"

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "common/tls/certificate_identity.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {
namespace {

grpc::Status ToGrpc(const absl::Status& s) {
  // absl's status codes are gRPC's, number for number.
  return s.ok() ? grpc::Status::OK
                : grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// An edge node's stream. Lives until gRPC says it is done (OnDone); ControlPlane holds its
// pointer from Hello until Gone, and Gone is called before the stream is deleted.
class SyncStream final : public grpc::ServerBidiReactor<v1::EdgeMessage, v1::ControlMessage>,
                         public EdgeStream {
 public:
  SyncStream(ControlPlane& control, Actor peer, bool secure)
      : control_(control), peer_(std::move(peer)), secure_(secure) {
    StartRead(&in_);
  }

  void Send(const v1::ControlMessage& message) override {
    std::lock_guard lock(mu_);
    if (finished_) return;
    if (writing_ && out_.size() > 1 && message.has_snapshot() && out_.back().has_snapshot()) {
      out_.back() = message;  // a newer snapshot replaces one not yet on the wire
      return;
    }
    out_.push_back(message);
    if (!writing_) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    out_.pop_front();
    if (!ok || out_.empty() || finished_) {
      writing_ = false;
      return;  // a failed write: the read side ends too, and finishes the stream
    }
    StartWrite(&out_.front());
  }

  // The control plane ends the stream (superseded by a newer one of its node): no Gone, it has
  // forgotten the stream already.
  void End(const absl::Status& status) override { FinishOnce(ToGrpc(status)); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Close(grpc::Status::OK);
      return;
    }
    if (!hello_ && !in_.has_hello()) {
      Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be a hello"));
      return;
    }
    switch (in_.kind_case()) {
      case v1::EdgeMessage::kHello: {
        // The certificate names the one node this stream may speak for; a second hello could
        // name another (without TLS), so there is none.
        absl::Status said;
        if (hello_) {
          said = control_.RefuseHello(
              peer_, in_.hello(), "a second hello on one stream (node " + in_.hello().node() + ")");
        } else if (secure_ && (peer_.role != "edge" || peer_.name != in_.hello().node())) {
          said = control_.RefuseHello(peer_, in_.hello(),
                                      "certificate of " + peer_.name + " (role " + peer_.role +
                                          ") may not speak for edge node " + in_.hello().node());
        } else {
          said = control_.Hello(this, peer_, in_.hello());
        }
        if (!said.ok()) {
          Close(ToGrpc(said));
          return;
        }
        hello_ = true;
        break;
      }
      case v1::EdgeMessage::kAck:
        control_.Ack(this, in_.ack());
        break;
      case v1::EdgeMessage::kNack:
        control_.Nack(this, in_.nack());
        break;
      case v1::EdgeMessage::kReport:
        if (absl::Status s = control_.Report(this, in_.report()); !s.ok()) {
          Close(ToGrpc(s));
          return;
        }
        break;
      case v1::EdgeMessage::KIND_NOT_SET:
        break;  // a newer edge's message kind: ignored
    }
    // Not after the control plane ended the stream meanwhile: gRPC takes no reads after Finish.
    std::lock_guard lock(mu_);
    if (!finished_) StartRead(&in_);
  }

  void OnDone() override {
    control_.Gone(this);
    delete this;
  }

 private:
  // Ends the stream from its own side (the edge went, or broke the protocol).
  void Close(const grpc::Status& status) {
    control_.Gone(this);  // no more Send() from the control plane
    FinishOnce(status);
  }
  // gRPC takes one Finish per stream; the control plane and the reader may both want to end it.
  // Under mu_, so that no StartRead slips in after it (OnReadDone); gRPC never runs a reaction
  // inside Finish or StartRead, so holding mu_ across them cannot deadlock.
  void FinishOnce(const grpc::Status& status) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  ControlPlane& control_;
  const Actor peer_;
  const bool secure_;
  v1::EdgeMessage in_;
  bool hello_ = false;
  std::mutex mu_;
  // Messages to send, the front one on the wire while writing_. A deque: references to the
  // front stay valid while more are queued behind it.
  std::deque<v1::ControlMessage> out_;
  bool writing_ = false;
  bool finished_ = false;
};

}  // namespace

Actor Identify(const grpc::CallbackServerContext& context, bool secure) {
  if (!secure) return Actor{"insecure", "operator"};
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return Actor{};
  const std::vector<grpc::string_ref> pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.empty()) return Actor{};
  const absl::StatusOr<tls::CertificateIdentity> id =
      tls::ParseCertificateIdentity(std::string_view(pems.front().data(), pems.front().size()));
  if (!id.ok()) return Actor{};
  return Actor{id->common_name, id->organizational_unit};
}

grpc::ServerBidiReactor<v1::EdgeMessage, v1::ControlMessage>* SyncService::Sync(
    grpc::CallbackServerContext* context) {
  return new SyncStream(control_, Identify(*context, secure_), secure_);
}

template <typename Response, typename Call>
grpc::ServerUnaryReactor* OperatorService::Run(grpc::CallbackServerContext* context,
                                               const char* action, Need need, Response* response,
                                               Call call) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const Actor actor = Identify(*context, secure_);
  const bool allowed =
      actor.role == "operator" || (need == Need::kViewer && actor.role == "viewer");
  if (!allowed) {
    const std::string why =
        actor.name.empty() ? "no client certificate"
                           : "role " + (actor.role.empty() ? std::string("(none)") : actor.role) +
                                 " may not " + action;
    control_.AuditRefusal(actor, action, why);
    reactor->Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why));
    return reactor;
  }
  auto result = call(actor);
  if (result.ok()) {
    *response = *std::move(result);
  } else if (need == Need::kOperator) {
    control_.AuditRefusal(actor, action, std::string(result.status().message()));
  }
  reactor->Finish(ToGrpc(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* OperatorService::Status(grpc::CallbackServerContext* context,
                                                  const v1::StatusRequest*,
                                                  v1::StatusResponse* response) {
  return Run(context, "status", Need::kViewer, response,
             [&](const Actor&) { return control_.Status(); });
}

grpc::ServerUnaryReactor* OperatorService::Plan(grpc::CallbackServerContext* context,
                                                const v1::ChangeRequest* request,
                                                v1::PlanResponse* response) {
  return Run(context, "plan", Need::kViewer, response,
             [&](const Actor&) { return control_.Plan(*request); });
}

grpc::ServerUnaryReactor* OperatorService::History(grpc::CallbackServerContext* context,
                                                   const v1::HistoryRequest* request,
                                                   v1::HistoryResponse* response) {
  return Run(context, "history", Need::kViewer, response,
             [&](const Actor&) { return control_.History(request->limit()); });
}

grpc::ServerUnaryReactor* OperatorService::Show(grpc::CallbackServerContext* context,
                                                const v1::ShowRequest* request,
                                                v1::ShowResponse* response) {
  return Run(context, "show", Need::kViewer, response,
             [&](const Actor&) { return control_.Show(request->version()); });
}

grpc::ServerUnaryReactor* OperatorService::Audit(grpc::CallbackServerContext* context,
                                                 const v1::AuditRequest* request,
                                                 v1::AuditResponse* response) {
  return Run(context, "audit", Need::kViewer, response,
             [&](const Actor&) { return control_.AuditLog(request->limit()); });
}

grpc::ServerUnaryReactor* OperatorService::Apply(grpc::CallbackServerContext* context,
                                                 const v1::ChangeRequest* request,
                                                 v1::ApplyResponse* response) {
  return Run(context, "apply", Need::kOperator, response,
             [&](const Actor& actor) { return control_.Apply(*request, actor); });
}

grpc::ServerUnaryReactor* OperatorService::Rollback(grpc::CallbackServerContext* context,
                                                    const v1::RollbackRequest* request,
                                                    v1::ApplyResponse* response) {
  return Run(context, "rollback", Need::kOperator, response,
             [&](const Actor& actor) { return control_.Rollback(*request, actor); });
}

grpc::ServerUnaryReactor* OperatorService::ListIntents(grpc::CallbackServerContext* context,
                                                       const v1::ListIntentsRequest*,
                                                       v1::IntentsResponse* response) {
  return Run(context, "list-intents", Need::kViewer, response,
             [&](const Actor&) { return control_.ListIntents(); });
}

grpc::ServerUnaryReactor* OperatorService::AddIntent(grpc::CallbackServerContext* context,
                                                     const v1::AddIntentRequest* request,
                                                     v1::IntentsResponse* response) {
  return Run(context, "add-intent", Need::kOperator, response,
             [&](const Actor& actor) { return control_.AddIntent(*request, actor); });
}

grpc::ServerUnaryReactor* OperatorService::RemoveIntent(grpc::CallbackServerContext* context,
                                                        const v1::RemoveIntentRequest* request,
                                                        v1::IntentsResponse* response) {
  return Run(context, "remove-intent", Need::kOperator, response,
             [&](const Actor& actor) { return control_.RemoveIntent(*request, actor); });
}

}  // namespace holdfast::control
