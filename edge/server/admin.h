// The admin HTTP listener, on its own address and its own thread, so it keeps answering when
// the workers are saturated:
//   /healthz   200 while the process runs
//   /ready     200 while serving, 503 while draining
//   /metrics   Prometheus text format
//   /clusters  JSON: every cluster's endpoints with their health
//   /config    JSON: the node, its POP and the config version in use
//   /bgp       JSON: the BGP speaker's peers (state, uptime, prefixes, last error and
//              NOTIFICATIONs) and what the node announces
#ifndef HOLDFAST_EDGE_SERVER_ADMIN_H_
#define HOLDFAST_EDGE_SERVER_ADMIN_H_

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "edge/bgp/announcer.h"
#include "edge/server/worker.h"

namespace holdfast::edge {

class AdminServer {
 public:
  explicit AdminServer(SharedState& shared) : shared_(shared) {}
  ~AdminServer();

  // Binds `address` ("127.0.0.1:9901", "[::1]:9901"); the bound port comes back from port().
  [[nodiscard]] absl::Status Listen(const std::string& address);
  // The node's BGP speaker, for /bgp and /metrics; none (the default) when the POP has no BGP
  // peers. Call before Start(); `bgp` must outlive Stop().
  void set_bgp(const BgpAnnouncer* bgp) { bgp_ = bgp; }
  void Start();
  void Stop();
  uint16_t port() const { return port_; }

  // The body of /metrics (exposed for tests).
  std::string Metrics() const;
  // Worker loops the watchdog finds stuck (watchdog.h).
  size_t WedgedWorkers() const;

 private:
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(asio::ip::tcp::socket socket);
  std::string Respond(std::string_view path, int& status, std::string& content_type) const;

  SharedState& shared_;
  const BgpAnnouncer* bgp_ = nullptr;
  asio::io_context io_{1};
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// "HOST:PORT" or "[V6]:PORT" to an endpoint; InvalidArgument naming what is wrong.
[[nodiscard]] absl::StatusOr<asio::ip::tcp::endpoint> ParseHostPort(const std::string& text);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_ADMIN_H_
