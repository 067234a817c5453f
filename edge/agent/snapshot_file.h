// The last config snapshot an edge applied, kept in its state directory so that it starts from
// it when the control plane cannot be reached at boot (fail static). One file, snapshot.pb (a
// serialized holdfast.v1.ConfigSnapshot), replaced atomically: a crash leaves the old one or
// the new one, never half of either.
#ifndef HOLDFAST_EDGE_AGENT_SNAPSHOT_FILE_H_
#define HOLDFAST_EDGE_AGENT_SNAPSHOT_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "holdfast/v1/control.pb.h"

namespace holdfast::edge {

// NOT_FOUND when there is none yet; DATA_LOSS when the file does not parse.
[[nodiscard]] absl::StatusOr<v1::ConfigSnapshot> ReadSnapshot(const std::string& state_dir);
// Writes it to a temporary file, flushes it to disk, and renames it over the old one.
[[nodiscard]] absl::Status WriteSnapshot(const std::string& state_dir,
                                         const v1::ConfigSnapshot& snapshot);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_AGENT_SNAPSHOT_FILE_H_
