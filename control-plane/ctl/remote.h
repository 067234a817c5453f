// holdfastctl's commands against a running control plane (holdfast-control): status, plan,
// apply, rollback, history, show and audit, and the operator intents (drain, withdraw,
// ack-freeze, intents, restore), over its Operator gRPC API with mTLS (the certificate's OU is
// the role) or --insecure for the local lab.
//
// Exit codes: 0 done; 1 refused (the config does not validate, the role may not, another
// version landed since the plan, an intent names an unknown POP or prefix); 2 usage; 3 the
// control plane cannot be reached; 4 the safety governor refused the intent (it would break a
// floor, or there is no freeze to acknowledge): nothing changed.
#ifndef HOLDFAST_CONTROL_PLANE_CTL_REMOTE_H_
#define HOLDFAST_CONTROL_PLANE_CTL_REMOTE_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace holdfast::ctl {

class RemoteCommands {
 public:
  // Adds the commands to `app`.
  explicit RemoteCommands(CLI::App& app);
  ~RemoteCommands();
  RemoteCommands(const RemoteCommands&) = delete;
  RemoteCommands& operator=(const RemoteCommands&) = delete;

  // Runs the command that was parsed; nullopt when none of these was.
  std::optional<int> Run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace holdfast::ctl

#endif  // HOLDFAST_CONTROL_PLANE_CTL_REMOTE_H_
