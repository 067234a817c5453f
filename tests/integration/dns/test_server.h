// A holdfast DNS server for the integration tests, in-process: its own io_context on its own
// thread, bound to a free loopback port (UDP and TCP), stopped and joined by the destructor.
#ifndef HOLDFAST_TESTS_INTEGRATION_DNS_TEST_SERVER_H_
#define HOLDFAST_TESTS_INTEGRATION_DNS_TEST_SERVER_H_

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

// Asio after a standard header: it picks its allocator (aligned_alloc or operator new) from
// libstdc++'s macros, and every translation unit must pick the same one, or ASan reports
// alloc-dealloc mismatches.
#include <asio/io_context.hpp>

#include "common/snapshot.h"
#include "dns/answer/engine.h"
#include "dns/server/metrics.h"
#include "dns/server/server.h"

namespace holdfast::dns::testing {

class TestServer {
 public:
  TestServer(const ServerOptions& options, DnsData data)
      : snapshot_(std::make_shared<const DnsData>(std::move(data))) {
    absl::StatusOr<std::unique_ptr<Server>> server =
        Server::Create(io_, options, snapshot_, metrics_);
    if (!server.ok()) throw std::runtime_error(std::string(server.status().message()));
    server_ = *std::move(server);
    server_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    io_.stop();
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  uint16_t port() const { return server_->port(); }
  std::string port_text() const { return std::to_string(port()); }
  ServerMetrics& metrics() { return metrics_; }
  // Swaps what the server answers from, as the edge does on a new plan.
  void Swap(DnsData data) { snapshot_.Set(std::make_shared<const DnsData>(std::move(data))); }

 private:
  // Declared before the io_context: its handlers may touch them until it is destroyed.
  Snapshot<DnsData> snapshot_;
  ServerMetrics metrics_;
  asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

}  // namespace holdfast::dns::testing

#endif  // HOLDFAST_TESTS_INTEGRATION_DNS_TEST_SERVER_H_
