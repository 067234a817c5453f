// The HTTP backend the edge tests, the control-plane tests and the lab start: one
// tests/support/backend.py process (what it answers is in that file). It binds port 0 unless told
// otherwise and prints "listening HOST PORT" once it accepts connections; port() is that port,
// the one it holds, so no other process can take it between choosing and listening. Killed
// (SIGKILL) when the object goes, also when the test fails.
#ifndef HOLDFAST_TESTS_SUPPORT_BACKENDS_H_
#define HOLDFAST_TESTS_SUPPORT_BACKENDS_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/process.h"

namespace holdfast::testing {

class Backend {
 public:
  // Starts `backend.py --name NAME --address ADDRESS --port PORT` with its output in
  // LOG_DIR/NAME.log and waits (10 s) for its "listening" line. `port` 0: one of the kernel's
  // choosing; another: that one (e.g. the port another backend got, on another address). Throws
  // std::runtime_error, with its output, when it exits or does not listen in time.
  Backend(std::string name, const std::filesystem::path& log_dir, std::string address = "127.0.0.1",
          uint16_t port = 0);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }
  // "ADDRESS:PORT", as the edge names an endpoint.
  std::string key() const { return address_ + ":" + std::to_string(port_); }
  bool running() const { return process_ != nullptr; }

  // Kills it (SIGKILL, waited for): its port refuses connections from now on. Its name and port
  // stay known.
  void Kill() { process_.reset(); }

 private:
  std::string name_;
  std::string address_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_SUPPORT_BACKENDS_H_
