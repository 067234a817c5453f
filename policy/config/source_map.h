// Where each element of a loaded config came from: config paths such as
// "clusters[1].health_check.interval" mapped to file, line and column.
#ifndef HOLDFAST_POLICY_CONFIG_SOURCE_MAP_H_
#define HOLDFAST_POLICY_CONFIG_SOURCE_MAP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "policy/finding.h"

namespace holdfast::policy {

class SourceMap {
 public:
  // Registers a file and returns its index for Add().
  int AddFile(std::string name);
  const std::vector<std::string>& files() const { return files_; }

  // Records that `path` was written at `line`:`column` (1-based) of file `file`. The first
  // record of a path wins.
  void Add(const std::string& path, int file, int line, int column);

  // The location of `path`, or of its nearest recorded ancestor ("a.b[2].c" -> "a.b[2]" ->
  // "a.b" -> "a"), or else line 1 of the first file. Never fails.
  SourceLocation Find(absl::string_view path) const;

  // A file named by the value at `path` (a certificate, a key), relative to the config file
  // that wrote it; absolute names are kept. The one rule for every file a config names, used
  // by the validator and by the daemons alike.
  std::string ResolveFile(absl::string_view path, const std::string& file) const;

 private:
  struct Mark {
    uint32_t file;
    uint32_t line;
    uint32_t column;
  };
  std::vector<std::string> files_;
  absl::flat_hash_map<std::string, Mark> marks_;
};

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_CONFIG_SOURCE_MAP_H_
