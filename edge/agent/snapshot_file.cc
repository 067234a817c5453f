#include "edge/agent/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/cat.h"
#include "common/file/read_file.h"

namespace holdfast::edge {
namespace {

std::string Path(const std::string& state_dir) {
  return (std::filesystem::path(state_dir) / "snapshot.pb").string();
}

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(Cat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<v1::ConfigSnapshot> ReadSnapshot(const std::string& state_dir) {
  absl::StatusOr<std::string> bytes = ReadFile(Path(state_dir), size_t{256} << 20);
  if (!bytes.ok()) return bytes.status();
  v1::ConfigSnapshot snapshot;
  if (!snapshot.ParseFromString(*bytes)) {
    return absl::DataLossError(Cat(Path(state_dir), ": does not parse"));
  }
  return snapshot;
}

absl::Status WriteSnapshot(const std::string& state_dir, const v1::ConfigSnapshot& snapshot) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return absl::UnavailableError(Cat(state_dir, ": ", ec.message()));
  const std::string path = Path(state_dir);
  const std::string tmp = path + ".tmp";
  const std::string bytes = snapshot.SerializeAsString();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(tmp);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const absl::Status s = Errno(tmp);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const absl::Status s = Errno(tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno(path);
  // The rename itself is durable once the directory is.
  const int dir = ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

}  // namespace holdfast::edge
