// Long-running processes for integration tests (daemons, backends): started without a shell,
// output to a file, stopped by the destructor (SIGKILL) whatever happens in the test, so a
// failing test leaves nothing running.
#ifndef HOLDFAST_TESTS_SUPPORT_PROCESS_H_
#define HOLDFAST_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace holdfast::testing {

class Process {
 public:
  // Starts args[0] with args; stdout and stderr go to `log` (created or truncated). Throws
  // std::runtime_error when it cannot be started.
  Process(const std::vector<std::string>& args, const std::filesystem::path& log);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // What it has written so far.
  std::string Output() const;
  // True while it has not exited.
  bool Running();
  void Signal(int signo) const;
  // Waits for the exit; nullopt when it is still running at the deadline. The exit code, or
  // 128 + signal when a signal ended it.
  std::optional<int> Wait(std::chrono::milliseconds deadline);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path log_;
};

// Polls `condition` every 20 ms until it holds or `deadline` passes.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds deadline);

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_SUPPORT_PROCESS_H_
