// Reading a whole small file with errors a user can act on.
#ifndef HOLDFAST_COMMON_FILE_READ_FILE_H_
#define HOLDFAST_COMMON_FILE_READ_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace holdfast {

// Returns the contents of `path`, at most `max_bytes` long. Errors, each with a message that
// needs no path prepended ("no such file", "is a directory", "permission denied",
// "larger than 16777216 bytes"): NotFound, PermissionDenied, FailedPrecondition (directory,
// not a regular file), ResourceExhausted (too large), Unknown (read error).
[[nodiscard]] absl::StatusOr<std::string> ReadFile(const std::string& path,
                                                   size_t max_bytes = size_t{16} << 20);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_FILE_READ_FILE_H_
