#include "tests/support/backends.h"

#include <chrono>
#include <regex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace holdfast::testing {

Backend::Backend(std::string name, const std::filesystem::path& log_dir, std::string address,
                 uint16_t port)
    : name_(std::move(name)), address_(std::move(address)) {
  process_ = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/python3", HF_TEST_SUPPORT_DIR "/backend.py", "--name",
                               name_, "--address", address_, "--port", std::to_string(port)},
      log_dir / (name_ + ".log"));
  static const std::regex kListening("listening \\S+ ([0-9]+)");
  std::smatch m;
  std::string out;
  const bool listening = WaitUntil(
      [&] {
        out = process_->Output();
        return std::regex_search(out, m, kListening) || !process_->Running();
      },
      std::chrono::seconds(10));
  if (!listening || m.empty()) {
    throw std::runtime_error("backend " + name_ + " did not start: " + process_->Output());
  }
  port_ = static_cast<uint16_t>(std::stoi(m[1]));
}

Backend::~Backend() = default;

}  // namespace holdfast::testing
