#include "edge/server/upstream_connect.h"

#include "common/net/await.h"

namespace holdfast::edge {

asio::awaitable<std::pair<ConnectOutcome, std::optional<asio::ip::tcp::socket>>> Connect(
    asio::io_context& io, const ClusterConfig& cluster, size_t endpoint, Deadline& deadline) {
  asio::ip::tcp::socket s(io);
  deadline.Arm(cluster.connect_timeout, &s);
  auto [ec] = co_await s.async_connect(cluster.addresses[endpoint], kAwait);
  const bool timed_out = deadline.fired;
  deadline.Disarm();
  if (ec) {
    co_return std::make_pair(timed_out ? ConnectOutcome::kTimedOut : ConnectOutcome::kFailed,
                             std::nullopt);
  }
  s.set_option(asio::ip::tcp::no_delay(true), ec);
  co_return std::make_pair(ConnectOutcome::kOk, std::optional<asio::ip::tcp::socket>(std::move(s)));
}

}  // namespace holdfast::edge
