// The edge's one load path, at start, on reload and for every snapshot from the control plane:
// the same checks as `holdfastctl validate` (each finding logged), then the config compiled for
// this node. Used by both config sources (config_source.h).
#ifndef HOLDFAST_EDGE_DAEMON_LOADER_H_
#define HOLDFAST_EDGE_DAEMON_LOADER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "edge/config/edge_config.h"
#include "holdfast/v1/control.pb.h"

namespace holdfast::edge {

// Where a config comes from: a file (with what it includes), or a snapshot from the control
// plane (exactly one of the two is set).
struct ConfigOrigin {
  std::string file;
  std::shared_ptr<const v1::ConfigSnapshot> snapshot;
};

// A config loaded, validated and compiled for this node.
struct Loaded {
  std::shared_ptr<const EdgeConfig> config;
  ConfigOrigin origin;
  // The files it was read from, to notice an edit; empty for a snapshot (nothing on disk).
  std::vector<std::string> files;
};

// Loads `origin` for `node`. A snapshot's relative file names (certificates, keys) are looked up
// in `files_dir`. An error says why the config cannot be served.
[[nodiscard]] absl::StatusOr<Loaded> LoadConfig(const ConfigOrigin& origin, std::string_view node,
                                                const std::string& files_dir);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_DAEMON_LOADER_H_
