// The config loader: YAML files in, one holdfast.v1.Config out, with the place of every value.
//
// The schema is the protobuf descriptor of holdfast.v1.Config, walked by reflection: a key is a
// field name, a map a message, a list a repeated field; enums are their value names in lower
// case without the prefix, durations "250ms"/"5s"/"2m"/"1h". Absent keys take their field's
// `default_value` option, so defaults live beside the fields they belong to in
// proto/holdfast/v1/config.proto. Unknown keys, wrong types, bad scalars and absent `required`
// keys are findings; the loader reports all of them and never stops at the first.
//
// Several files make one config: each file given, and each file they `include` (relative to the
// including file, depth first, each file once), adds its lists to the config in that order.
// A single value (a scalar, or a message with no lists to merge) set in two files is an error
// that cites both places.
//
// Thread-compatible; no global state. Throws nothing. YAML is parsed by libyaml into the flat
// tree of internal/yaml_tree.h.
#ifndef HOLDFAST_POLICY_CONFIG_LOADER_H_
#define HOLDFAST_POLICY_CONFIG_LOADER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "holdfast/v1/config.pb.h"
#include "policy/config/source_map.h"
#include "policy/finding.h"

namespace holdfast::policy {

struct LoadedConfig {
  // Complete only when `findings` holds no error; otherwise what could be read.
  v1::Config config;
  // Locations of every value written in the files (defaults have none: Find() falls back to
  // the enclosing map). sources.files() lists the files read, in load order.
  SourceMap sources;
  std::vector<Finding> findings;
};

struct LoadOptions {
  // Reads a whole file; errors become finding HF1001 with the status message. Unset reads the
  // file system (common/file/read_file.h). Tests and fuzzers pass files from memory.
  std::function<absl::StatusOr<std::string>(const std::string& path)> read_file;
};

// Loads the config made of `paths` and everything they include.
LoadedConfig LoadConfig(const std::vector<std::string>& paths, const LoadOptions& options = {});

// The same rules for YAML files of another message type (a health scenario, say): fills `root`
// and returns where each value came from and what was wrong. `include` is followed only when the
// message has an `include` field.
struct LoadedYaml {
  SourceMap sources;
  std::vector<Finding> findings;
};
LoadedYaml LoadYaml(const std::vector<std::string>& paths, google::protobuf::Message& root,
                    const LoadOptions& options = {});

// Problems with the schema's own field options (a default_value that does not parse as its
// field, "{}" on a scalar, a field both required and defaulted), one line each. Empty for a
// sound schema; a unit test keeps it so.
std::vector<std::string> SchemaProblems();

// Limits that keep a hostile file from exhausting memory or time (HF1012 / HF1010).
inline constexpr size_t kMaxFileBytes = size_t{16} << 20;
inline constexpr int kMaxIncludeDepth = 16;
inline constexpr int kMaxFiles = 256;
inline constexpr size_t kMaxValues = 500'000;

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_CONFIG_LOADER_H_
