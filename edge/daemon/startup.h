// What both daemons of edge/ (holdfast-edge, holdfast-dns) do the same way at start and while
// they run: log validation findings, refuse a reload that would move a socket, pick their thread
// count, and turn signals into events.
#ifndef HOLDFAST_EDGE_DAEMON_STARTUP_H_
#define HOLDFAST_EDGE_DAEMON_STARTUP_H_

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cat.h"
#include "policy/finding.h"

namespace holdfast::edge {

// One line per finding (event=config.finding), errors at error level, warnings at warn.
void LogFindings(const std::vector<policy::Finding>& findings);

// Reload keeps the sockets: a listener added, removed, renamed, moved to other addresses or (for
// listener types that have a `protocol`) changed in protocol needs a restart. Empty when `next`
// listens exactly as `current` does; otherwise why not, naming the listeners `kind`
// ("listeners", "dns listeners"). Listener: a struct with `name` and `binds`, and optionally
// `protocol`, each comparable with ==. Pure.
template <typename Listener>
std::string ListenerChange(std::string_view kind, const std::vector<Listener>& current,
                           const std::vector<Listener>& next) {
  constexpr bool kHasProtocol = requires(const Listener& l) { l.protocol; };
  if (current.size() != next.size()) {
    return Cat("the number of ", kind, " changes (", current.size(), " -> ", next.size(), ")");
  }
  for (size_t i = 0; i < current.size(); ++i) {
    const Listener& a = current[i];
    const Listener& b = next[i];
    bool same = a.name == b.name && a.binds == b.binds;
    if constexpr (kHasProtocol) same = same && a.protocol == b.protocol;
    if (!same) {
      return Cat("listener ", a.name, " changes its name",
                 kHasProtocol ? ", protocol or addresses" : " or addresses");
    }
  }
  return {};
}

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
