#include "edge/config/node.h"

#include <functional>

#include "absl/strings/str_format.h"
#include "common/cat.h"

namespace holdfast::edge {

absl::StatusOr<NodeInConfig> FindNode(const v1::Config& config, std::string_view name) {
  for (const v1::Pop& pop : config.pops()) {
    for (const v1::Node& n : pop.nodes()) {
      if (n.name() == name) return NodeInConfig{&pop, &n};
    }
  }
  return absl::NotFoundError(Cat("no POP has a node named '", name, "'"));
}

std::string ConfigVersion(const v1::Config& config) {
  return absl::StrFormat("%016x", std::hash<std::string>{}(config.SerializeAsString()));
}

absl::StatusOr<std::vector<asio::ip::tcp::endpoint>> ListenerBinds(const v1::Listener& listener,
                                                                   const v1::Node& node) {
  std::vector<std::string> addresses;
  if (listener.address().empty()) {
    addresses.assign(node.addresses().begin(), node.addresses().end());
  } else {
    addresses.push_back(listener.address());
  }
  std::vector<asio::ip::tcp::endpoint> binds;
  for (const std::string& text : addresses) {
    asio::error_code ec;
    const asio::ip::address a = asio::ip::make_address(text, ec);
    if (ec) return absl::InvalidArgumentError(Cat("not an IP address: ", text));
    binds.emplace_back(a, static_cast<uint16_t>(listener.port()));
  }
  return binds;
}

}  // namespace holdfast::edge
