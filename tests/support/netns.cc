#include "tests/support/netns.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/ports.h"
#include "tests/support/subprocess.h"

namespace holdfast::testing {
namespace {

constexpr char kIp[] = "/usr/sbin/ip";

std::atomic<int> next_index{0};

// `ip ARGS...`; throws with its stderr when it fails.
void Ip(std::vector<std::string> args) {
  args.insert(args.begin(), kIp);
  const RunResult r = Run(args, std::filesystem::temp_directory_path(), std::chrono::seconds(10));
  if (!r.exited || r.exit_code != 0) {
    std::string command;
    for (const std::string& a : args) command += a + " ";
    throw std::runtime_error("VethNamespace: `" + command + "` failed: " + r.err);
  }
}

}  // namespace

bool VethNamespace::Available() { return geteuid() == 0 && std::filesystem::exists(kIp); }

VethNamespace::VethNamespace() {
  // Names and addresses must differ from those of every other test process running now: they
  // are made of the index of this process's port block (ports.h), which no other holds, and a
  // count within the process. Interface names have at most 15 characters.
  const PortAllocator& ports = PortAllocator::ForThisProcess();
  const int block = (ports.block_first() - PortAllocator::kLowest) / PortAllocator::kBlockSize;
  const int n = next_index++ % 64;
  const std::string b = std::to_string(block);
  name_ = "hf-" + std::to_string(getpid()) + "-" + std::to_string(n);
  outer_ = "hf" + b + "a" + std::to_string(n);
  inner_ = "hf" + b + "b" + std::to_string(n);
  const std::string v4 =
      "10." + std::to_string(128 + block / 256) + "." + std::to_string(block % 256) + ".";
  outer_v4_ = v4 + std::to_string(4 * n + 1);
  inner_v4_ = v4 + std::to_string(4 * n + 2);
  // Written as peers print it (RFC 5952), which tests compare with.
  const std::string v6 = "fd00:254:" + b + ":" + std::to_string(100 + n) + "::";
  outer_v6_ = v6 + "1";
  inner_v6_ = v6 + "2";
  Ip({"netns", "add", name_});
  try {
    Ip({"link", "add", outer_, "type", "veth", "peer", "name", inner_, "netns", name_});
    Ip({"address", "add", outer_v4_ + "/30", "dev", outer_});
    Ip({"address", "add", outer_v6_ + "/64", "dev", outer_, "nodad"});
    Ip({"link", "set", outer_, "up"});
    Ip({"-n", name_, "address", "add", inner_v4_ + "/30", "dev", inner_});
    Ip({"-n", name_, "address", "add", inner_v6_ + "/64", "dev", inner_, "nodad"});
    Ip({"-n", name_, "link", "set", inner_, "up"});
    Ip({"-n", name_, "link", "set", "lo", "up"});
  } catch (...) {
    Run({kIp, "netns", "delete", name_}, std::filesystem::temp_directory_path());
    throw;
  }
}

VethNamespace::~VethNamespace() {
  // The veth pair goes with the namespace its inner end is in.
  Run({kIp, "netns", "delete", name_}, std::filesystem::temp_directory_path());
}

}  // namespace holdfast::testing
