#include "tests/support/ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <utility>

namespace holdfast::testing {
namespace {

// True when a socket of `type` can bind `address`:`port` now (no SO_REUSEADDR, so a listener,
// a bound socket or a connection in TIME_WAIT on that port all count as in use).
bool CanBind(int type, const std::string& address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    throw std::runtime_error("FreePort: not an IPv4 address: " + address);
  }
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("FreePort: socket: ") + std::strerror(errno));
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  const int error = errno;
  ::close(fd);
  if (rc == 0) return true;
  if (error == EADDRINUSE || error == EACCES) return false;
  throw std::runtime_error("FreePort: bind " + address + ":" + std::to_string(port) + ": " +
                           std::strerror(error));
}

bool Free(const std::string& address, uint16_t port) {
  for (const std::string& a : {address, std::string("0.0.0.0")}) {
    if (!CanBind(SOCK_STREAM, a, port) || !CanBind(SOCK_DGRAM, a, port)) return false;
  }
  return true;
}

// The ports the kernel never picks as ephemeral ones: the larger of [kLowest, start) and
// (end, 65535] of ip_local_port_range.
std::pair<uint16_t, uint16_t> Range() {
  int start = 32768, end = 60999;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  in >> start >> end;
  const int below = start - PortAllocator::kLowest;
  const int above = 65535 - end;
  if (below >= above && below >= PortAllocator::kBlockSize) {
    return {PortAllocator::kLowest, static_cast<uint16_t>(start - 1)};
  }
  if (above >= PortAllocator::kBlockSize) {
    return {static_cast<uint16_t>(end + 1), static_cast<uint16_t>(65535)};
  }
  throw std::runtime_error("FreePort: ip_local_port_range " + std::to_string(start) + " " +
                           std::to_string(end) + " leaves no room for test ports");
}

}  // namespace

PortAllocator& PortAllocator::ForThisProcess() {
  static PortAllocator* const allocator = [] {
    const auto [first, last] = Range();
    return new PortAllocator(first, last,
                             std::filesystem::temp_directory_path() / "holdfast-test-ports");
  }();
  return *allocator;
}

PortAllocator::PortAllocator(uint16_t first, uint16_t last, const std::filesystem::path& lock_dir) {
  std::error_code ec;
  std::filesystem::create_directories(lock_dir, ec);
  // Every user's tests share the directory, as they share the ports.
  std::filesystem::permissions(
      lock_dir, std::filesystem::perms::all | std::filesystem::perms::sticky_bit, ec);
  const int blocks = (last - first + 1) / kBlockSize;
  if (blocks < 1) throw std::runtime_error("PortAllocator: range smaller than one block");
  const int start = static_cast<int>(::getpid() % blocks);
  for (int i = 0; i < blocks; ++i) {
    const int block = (start + i) % blocks;
    const std::string path = (lock_dir / ("block-" + std::to_string(block) + ".lock")).string();
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      lock_fd_ = fd;
      block_first_ = static_cast<uint16_t>(first + block * kBlockSize);
      return;
    }
    ::close(fd);
  }
  throw std::runtime_error("PortAllocator: every block of ports " + std::to_string(first) + "-" +
                           std::to_string(last) + " is claimed (locks in " + lock_dir.string() +
                           ")");
}

PortAllocator::~PortAllocator() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

uint16_t PortAllocator::Next(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int tried = 0; tried < kBlockSize; ++tried) {
    const auto port = static_cast<uint16_t>(block_first_ + next_);
    next_ = static_cast<uint16_t>((next_ + 1) % kBlockSize);
    if (Free(address, port)) return port;
  }
  throw std::runtime_error("PortAllocator: every port of " + std::to_string(block_first_) + "-" +
                           std::to_string(block_first_ + kBlockSize - 1) + " is in use");
}

uint16_t FreePort(const std::string& address) {
  return PortAllocator::ForThisProcess().Next(address);
}

}  // namespace holdfast::testing
