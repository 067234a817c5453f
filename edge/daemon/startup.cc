#include "edge/daemon/startup.h"

#include <algorithm>
#include <csignal>
#include <string>
#include <thread>

#include "spdlog/spdlog.h"

namespace holdfast::edge {

void LogFindings(const std::vector<policy::Finding>& findings) {
  for (const policy::Finding& f : findings) {
    const auto level =
        f.severity == policy::Severity::kError ? spdlog::level::err : spdlog::level::warn;
    spdlog::log(level, "event=config.finding file={} line={} column={} code={} message=\"{}\"",
                f.where.file, f.where.line, f.where.column, std::string(policy::Info(f.code).id),
                f.message);
  }
}

int ThreadCount(int requested) {
  if (requested > 0) return requested;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

SignalLoop::SignalLoop(asio::io_context& io, std::function<void()> on_reload,
                       std::function<void(int)> on_stop)
    : signals_(io, SIGTERM, SIGINT, SIGHUP),
      on_reload_(std::move(on_reload)),
      on_stop_(std::move(on_stop)) {
  Wait();
}

void SignalLoop::Wait() {
  signals_.async_wait([this](const asio::error_code& ec, int signo) {
    if (ec) return;  // the set went away
    if (signo == SIGHUP) {
      on_reload_();
    } else {
      on_stop_(signo);
    }
    Wait();
  });
}

}  // namespace holdfast::edge
