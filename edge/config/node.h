// A node of the config as every daemon of an edge node finds it: its POP, the config's version
// digest, and the addresses a listener binds there. holdfast-edge (edge_config.h) and
// holdfast-dns (dnsd/dns_node.h) both compile from these, so both kinds of node agree.
#ifndef HOLDFAST_EDGE_CONFIG_NODE_H_
#define HOLDFAST_EDGE_CONFIG_NODE_H_

#include <asio/ip/tcp.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "holdfast/v1/config.pb.h"

namespace holdfast::edge {

struct NodeInConfig {
  const v1::Pop* pop = nullptr;
  const v1::Node* node = nullptr;
};

// Node `name` of `config` and its POP (pointers into `config`). NotFound when no POP has it.
[[nodiscard]] absl::StatusOr<NodeInConfig> FindNode(const v1::Config& config,
                                                    std::string_view name);

// A digest of the config's content: what /config reports and reloads compare. Stable within a
// build.
std::string ConfigVersion(const v1::Config& config);

// The addresses `listener` binds on `node`: its own address, or each of the node's addresses
// when it names none. InvalidArgument for an address that does not parse.
[[nodiscard]] absl::StatusOr<std::vector<asio::ip::tcp::endpoint>> ListenerBinds(
    const v1::Listener& listener, const v1::Node& node);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_CONFIG_NODE_H_
