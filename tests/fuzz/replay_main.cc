// Runs a libFuzzer target without libFuzzer: LLVMFuzzerTestOneInput once on every file named on
// the command line, and on every file inside the directories named (sorted, not recursive), so
// that ctest replays the seed corpus in the normal build. Exits 1 when an argument cannot be read
// or names no input at all; a broken invariant aborts inside the target.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

bool Replay(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "replay: cannot read " << file << "\n";
    return false;
  }
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    std::cerr << "replay: cannot read " << file << "\n";
    return false;
  }
  std::cout << "replay: " << file.string() << " (" << data.size() << " bytes)" << std::endl;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " FILE_OR_DIR...\n";
    return 2;
  }
  int replayed = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(arg, ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      if (ec) {
        std::cerr << "replay: cannot list " << arg << ": " << ec.message() << "\n";
        ok = false;
      }
      std::sort(files.begin(), files.end());
      for (const fs::path& f : files) {
        ok = Replay(f) && ok;
        ++replayed;
      }
    } else {
      ok = Replay(arg) && ok;
      ++replayed;
    }
  }
  std::cout << "replay: " << replayed << " inputs" << (ok ? "" : ", some unreadable") << std::endl;
  return ok && replayed > 0 ? 0 : 1;
}
