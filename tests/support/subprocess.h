// Running a program for a test: no shell (each argument is passed as it is), stdin from
// /dev/null, stdout and stderr collected separately, and a deadline after which it is killed.
#ifndef HOLDFAST_TESTS_SUPPORT_SUBPROCESS_H_
#define HOLDFAST_TESTS_SUPPORT_SUBPROCESS_H_

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace holdfast::testing {

// How a run ended, and what it printed.
struct RunResult {
  bool exited = false;     // a normal exit (not a signal, not our timeout)
  int exit_code = -1;      // valid when `exited`
  int signal = 0;          // the signal that ended it, if one did
  bool timed_out = false;  // killed by the deadline below
  std::string out;
  std::string err;
};

// Runs args[0] (a path) with args in `cwd`. A run past `deadline_after` is killed (SIGKILL)
// and reported as timed out. Throws std::runtime_error when the run cannot be started.
RunResult Run(const std::vector<std::string>& args, const std::filesystem::path& cwd,
              std::chrono::milliseconds deadline_after = std::chrono::seconds(60));

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_SUPPORT_SUBPROCESS_H_
