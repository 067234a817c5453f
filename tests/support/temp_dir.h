// A temporary directory for a test: made fresh under the system's temp directory, removed with
// everything in it when the object goes away (also when the test fails).
#ifndef HOLDFAST_TESTS_SUPPORT_TEMP_DIR_H_
#define HOLDFAST_TESTS_SUPPORT_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace holdfast::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "holdfast-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `contents` (any bytes) to `name` inside the directory; returns the file's path.
  std::string Write(const std::string& name, const std::string& contents) const {
    const std::filesystem::path p = path_ / name;
    std::ofstream f(p, std::ios::binary);
    f << contents;
    f.close();
    if (!f) throw std::runtime_error("cannot write " + p.string());
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_SUPPORT_TEMP_DIR_H_
