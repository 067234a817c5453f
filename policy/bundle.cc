#include "policy/bundle.h"

#include <filesystem>
#include <set>
#include <utility>

#include "common/cat.h"
#include "common/file/read_file.h"

namespace holdfast::policy {
namespace {

bool SafeRelativePath(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\0') != std::string::npos) return false;
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    const std::string_view part =
        std::string_view(path).substr(start, slash == std::string::npos ? slash : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

}  // namespace

absl::Status CheckBundle(const v1::ConfigBundle& bundle) {
  if (bundle.files().empty()) return absl::InvalidArgumentError("the config bundle has no file");
  std::set<std::string> seen;
  for (const v1::ConfigBundle::File& f : bundle.files()) {
    if (!SafeRelativePath(f.path())) {
      return absl::InvalidArgumentError(
          Cat("config bundle path '", f.path(),
              "' must be relative to the top-level file's directory, without '..'"));
    }
    if (!seen.insert(f.path()).second) {
      return absl::InvalidArgumentError(Cat("config bundle names '", f.path(), "' twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ConfigBundle> MakeBundle(const std::vector<std::string>& files) {
  if (files.empty()) return absl::InvalidArgumentError("no config file");
  namespace fs = std::filesystem;
  const fs::path top_dir = fs::absolute(fs::path(files.front())).lexically_normal().parent_path();
  v1::ConfigBundle bundle;
  for (const std::string& file : files) {
    const fs::path relative =
        fs::absolute(fs::path(file)).lexically_normal().lexically_relative(top_dir);
    absl::StatusOr<std::string> content = ReadFile(file);
    if (!content.ok())
      return absl::UnavailableError(Cat(file, ": ", std::string(content.status().message())));
    v1::ConfigBundle::File* f = bundle.add_files();
    f->set_path(relative.generic_string());
    f->set_content(*std::move(content));
  }
  if (absl::Status s = CheckBundle(bundle); !s.ok()) {
    return absl::InvalidArgumentError(
        Cat(std::string(s.message()),
            " (every included file must lie in the top-level file's directory)"));
  }
  return bundle;
}

LoadedConfig LoadBundle(const v1::ConfigBundle& bundle, const ValidateOptions& validate,
                        const std::string& base_dir) {
  namespace fs = std::filesystem;
  const fs::path base(base_dir);
  LoadOptions load;
  load.read_file = [&bundle, &base](const std::string& path) -> absl::StatusOr<std::string> {
    // The loader names included files by joining them to the including file's directory.
    const std::string wanted = fs::path(path)
                                   .lexically_normal()
                                   .lexically_relative(base.empty() ? "." : base)
                                   .generic_string();
    for (const v1::ConfigBundle::File& f : bundle.files()) {
      if (f.path() == wanted) return f.content();
    }
    return absl::NotFoundError("not in the config bundle");
  };
  return LoadAndValidate({(base / bundle.files(0).path()).string()}, load, validate);
}

}  // namespace holdfast::policy
