// What both daemons of edge/ (holdfast-edge, holdfast-dns) do the same way at start and while
// they run: log validation findings, pick their thread count, and turn signals into events.
#ifndef HOLDFAST_EDGE_DAEMON_STARTUP_H_
#define HOLDFAST_EDGE_DAEMON_STARTUP_H_

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <functional>
#include <vector>

#include "policy/finding.h"

namespace holdfast::edge {

// One line per finding (event=config.finding), errors at error level, warnings at warn.
void LogFindings(const std::vector<policy::Finding>& findings);

// Threads for `requested` (0: one per core).
int ThreadCount(int requested);

// SIGHUP calls `on_reload`, SIGTERM and SIGINT call `on_stop` (with the signal number), on
// `io`'s thread, for as long as the SignalLoop lives. Made before any other thread starts, so
// that no signal reaches the process's default action.
class SignalLoop {
 public:
  SignalLoop(asio::io_context& io, std::function<void()> on_reload,
             std::function<void(int signo)> on_stop);
  SignalLoop(const SignalLoop&) = delete;
  SignalLoop& operator=(const SignalLoop&) = delete;

 private:
  void Wait();

  asio::signal_set signals_;
  std::function<void()> on_reload_;
  std::function<void(int)> on_stop_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_DAEMON_STARTUP_H_
