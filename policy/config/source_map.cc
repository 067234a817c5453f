#include "policy/config/source_map.h"

#include <filesystem>

namespace holdfast::policy {

int SourceMap::AddFile(std::string name) {
  files_.push_back(std::move(name));
  return static_cast<int>(files_.size() - 1);
}

void SourceMap::Add(const std::string& path, int file, int line, int column) {
  marks_.try_emplace(path, Mark{static_cast<uint32_t>(file), static_cast<uint32_t>(line),
                                static_cast<uint32_t>(column)});
}

SourceLocation SourceMap::Find(absl::string_view path) const {
  while (!path.empty()) {
    if (auto it = marks_.find(path); it != marks_.end()) {
      const Mark& m = it->second;
      return SourceLocation{files_[m.file], static_cast<int>(m.line), static_cast<int>(m.column)};
    }
    // Drop the last element: ".name" or "[index]".
    const size_t cut = path.find_last_of(".[");
    path = path.substr(0, cut == absl::string_view::npos ? 0 : cut);
  }
  return SourceLocation{files_.empty() ? std::string() : files_.front(), 1, 1};
}

std::string SourceMap::ResolveFile(absl::string_view path, const std::string& file) const {
  if (file.empty() || std::filesystem::path(file).is_absolute()) return file;
  return (std::filesystem::path(Find(path).file).parent_path() / file).string();
}

}  // namespace holdfast::policy
