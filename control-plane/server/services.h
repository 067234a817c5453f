// The control plane's gRPC services over ControlPlane: EdgeSync (one bidirectional stream per
// edge node, gRPC's callback API so a thousand idle streams cost no thread each) and Operator.
//
// Who calls: with mTLS, the client certificate's common name is the caller's name and its
// organizational unit the role: "edge" for edge nodes (whose common name must be the node name
// they say hello with; everything else on that stream then speaks for that node only, see
// ControlPlane::Hello and Report), "viewer" (status, plan, history, show, audit, list intents) or
// "operator" (also apply, rollback, and adding and removing intents). A caller without the role is
// refused with PERMISSION_DENIED, and the refusal is audited. Without TLS (--insecure, the local
// lab only) every caller is an operator named "insecure".
#ifndef HOLDFAST_CONTROL_PLANE_SERVER_SERVICES_H_
#define HOLDFAST_CONTROL_PLANE_SERVER_SERVICES_H_

#include <grpcpp/grpcpp.h>

#include "control-plane/server/control_plane.h"
#include "holdfast/v1/control.grpc.pb.h"

namespace holdfast::control {

// The caller as its certificate says, or the insecure operator.
Actor Identify(const grpc::CallbackServerContext& context, bool secure);

class SyncService final : public v1::EdgeSync::CallbackService {
 public:
  SyncService(ControlPlane& control, bool secure) : control_(control), secure_(secure) {}
  grpc::ServerBidiReactor<v1::EdgeMessage, v1::ControlMessage>* Sync(
      grpc::CallbackServerContext* context) override;

 private:
  ControlPlane& control_;
  bool secure_;
};

class OperatorService final : public v1::Operator::CallbackService {
 public:
  OperatorService(ControlPlane& control, bool secure) : control_(control), secure_(secure) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const v1::StatusRequest* request,
                                   v1::StatusResponse* response) override;
  grpc::ServerUnaryReactor* Plan(grpc::CallbackServerContext* context,
                                 const v1::ChangeRequest* request,
                                 v1::PlanResponse* response) override;
  grpc::ServerUnaryReactor* History(grpc::CallbackServerContext* context,
                                    const v1::HistoryRequest* request,
                                    v1::HistoryResponse* response) override;
  grpc::ServerUnaryReactor* Show(grpc::CallbackServerContext* context,
                                 const v1::ShowRequest* request,
                                 v1::ShowResponse* response) override;
  grpc::ServerUnaryReactor* Audit(grpc::CallbackServerContext* context,
                                  const v1::AuditRequest* request,
                                  v1::AuditResponse* response) override;
  grpc::ServerUnaryReactor* Apply(grpc::CallbackServerContext* context,
                                  const v1::ChangeRequest* request,
                                  v1::ApplyResponse* response) override;
  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* context,
                                     const v1::RollbackRequest* request,
                                     v1::ApplyResponse* response) override;
  grpc::ServerUnaryReactor* ListIntents(grpc::CallbackServerContext* context,
                                        const v1::ListIntentsRequest* request,
                                        v1::IntentsResponse* response) override;
  grpc::ServerUnaryReactor* AddIntent(grpc::CallbackServerContext* context,
                                      const v1::AddIntentRequest* request,
                                      v1::IntentsResponse* response) override;
  grpc::ServerUnaryReactor* RemoveIntent(grpc::CallbackServerContext* context,
                                         const v1::RemoveIntentRequest* request,
                                         v1::IntentsResponse* response) override;

 private:
  enum class Need { kViewer, kOperator };
  // Checks the caller's role, runs `call`, and finishes the RPC with its outcome.
  template <typename Response, typename Call>
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context, const char* action, Need need,
                                Response* response, Call call);

  ControlPlane& control_;
  bool secure_;
};

}  // namespace holdfast::control

#endif  // HOLDFAST_CONTROL_PLANE_SERVER_SERVICES_H_
