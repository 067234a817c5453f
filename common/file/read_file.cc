#include "common/file/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace holdfast {
namespace {

absl::Status ErrnoStatus(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError("no such file");
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError("permission denied");
    case EISDIR:
      return absl::FailedPreconditionError("is a directory");
    default:
      return absl::UnknownError(std::strerror(err));
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno);
  if (S_ISDIR(st.st_mode)) return ErrnoStatus(EISDIR);
  if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError("not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("larger than ", max_bytes, " bytes"));
  }

  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno);
    }
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

}  // namespace holdfast
