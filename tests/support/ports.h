// Ports for a program a test must name a port to before it starts (a listener in a config, BIRD's
// `local ... port`, the control plane's --listen). A program that can bind port 0 and report the
// port it got needs none of this: backend.py prints it (backends.h), holdfast-edge logs
// admin_port=, holdfast-control logs port=, an in-process DNS server has port().
//
// Binding port 0 and releasing it (what FreePort did before) races: the kernel hands the same
// port out again as the ephemeral port of any connect() or bind(0) on the machine, and to every
// other test process asking the same way. So ports come from a range the kernel never hands out
// (below the start of /proc/sys/net/ipv4/ip_local_port_range, from 10000 up: 10000-32767 with
// Linux's default 32768-60999; above its end when there is more room there), cut into blocks
// of kBlockSize ports. A process claims one block for its lifetime with an exclusive flock() on
// DIR/block-N.lock (DIR: $TMPDIR/holdfast-test-ports), starting at block pid % blocks and taking
// the next free one: the lock goes with the process, so concurrently running test processes
// (ctest -j, several work trees, a bench) never share a block, and a crashed one leaves nothing
// to clean up. Within its block a process hands out the ports in turn, wrapping around, and
// skips a port that a bind check (TCP and UDP, on the given address and on 0.0.0.0, without
// SO_REUSEADDR) finds in use, by anyone or by a connection of ours still in TIME_WAIT.
// What remains is a program outside the tests binding a fixed port of the range in the moment
// between the check and the daemon's start.
#ifndef HOLDFAST_TESTS_SUPPORT_PORTS_H_
#define HOLDFAST_TESTS_SUPPORT_PORTS_H_

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>

namespace holdfast::testing {

class PortAllocator {
 public:
  static constexpr uint16_t kBlockSize = 64;
  static constexpr uint16_t kLowest = 10000;

  // The allocator of this process: the first call claims its block. Throws std::runtime_error
  // when no block is free or the range is too small.
  static PortAllocator& ForThisProcess();

  // Claims a block of [first, last] (inclusive) under `lock_dir`; for tests of the scheme.
  PortAllocator(uint16_t first, uint16_t last, const std::filesystem::path& lock_dir);
  ~PortAllocator();
  PortAllocator(const PortAllocator&) = delete;
  PortAllocator& operator=(const PortAllocator&) = delete;

  // The next port of the block that passes the bind check on `address` (IPv4) and 0.0.0.0.
  // Throws std::runtime_error when every port of the block is in use.
  uint16_t Next(const std::string& address = "127.0.0.1");

  uint16_t block_first() const { return block_first_; }

 private:
  std::mutex mu_;
  int lock_fd_ = -1;
  uint16_t block_first_ = 0;
  uint16_t next_ = 0;  // offset in the block
};

// A port free on `address` now that no other test process is handed: see above.
uint16_t FreePort(const std::string& address = "127.0.0.1");

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_SUPPORT_PORTS_H_
