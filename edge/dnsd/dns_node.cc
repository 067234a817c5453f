#include "edge/dnsd/dns_node.h"

#include "common/cat.h"
#include "edge/config/dns_config.h"
#include "edge/config/node.h"

namespace holdfast::edge {

absl::StatusOr<std::shared_ptr<const DnsNodeConfig>> CompileDnsNode(const v1::Config& config,
                                                                    std::string_view node) {
  auto out = std::make_shared<DnsNodeConfig>();
  const absl::StatusOr<NodeInConfig> found = FindNode(config, node);
  if (!found.ok()) return found.status();
  const v1::Node* self = found->node;
  out->pop = found->pop->name();
  out->node = std::string(node);
  // The same digest as holdfast-edge's, so both kinds of node report one version for one config.
  out->version = ConfigVersion(config);

  for (const v1::Listener& l : config.listeners()) {
    if (l.protocol() != v1::Listener::PROTOCOL_DNS) continue;
    auto binds = ListenerBinds(l, *self);
    if (!binds.ok()) {
      return absl::InvalidArgumentError(
          Cat("listener ", l.name(), ": ", std::string(binds.status().message())));
    }
    out->listeners.push_back(DnsListener{l.name(), *std::move(binds)});
  }
  if (out->listeners.empty()) {
    return absl::FailedPreconditionError("the config has no listener of protocol dns");
  }

  auto dns = CompileDnsData(config);
  if (!dns.ok()) return dns.status();
  out->dns = *std::move(dns);
  return std::shared_ptr<const DnsNodeConfig>(std::move(out));
}

}  // namespace holdfast::edge
