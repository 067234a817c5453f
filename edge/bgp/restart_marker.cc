#include "edge/bgp/restart_marker.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <system_error>

#include "spdlog/spdlog.h"

namespace holdfast::edge {

BgpRestartMarker::BgpRestartMarker(const std::filesystem::path& state_dir, std::string_view node)
    : path_(state_dir / ("bgp-" + std::string(node) + ".running")) {}

bool BgpRestartMarker::Found() const {
  std::error_code ec;
  return std::filesystem::exists(path_, ec);
}

void BgpRestartMarker::Set() const {
  std::error_code ec;
  std::filesystem::create_directories(path_.parent_path(), ec);
  // For whoever looks: which process ran the sessions, and since when.
  std::ofstream out(path_, std::ios::trunc);
  out << "pid " << getpid() << "\nstarted "
      << std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count()
      << "\n";
  out.close();
  if (!out) {
    spdlog::warn(
        "event=bgp.restart_marker_unwritable path={} reason=\"after a crash, the next start "
        "will not tell the peers it restarted (RFC 4724 R bit)\"",
        path_.string());
  }
}

void BgpRestartMarker::Clear() const {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  if (ec) {
    spdlog::warn("event=bgp.restart_marker_stuck path={} error=\"{}\"", path_.string(),
                 ec.message());
  }
}

}  // namespace holdfast::edge
