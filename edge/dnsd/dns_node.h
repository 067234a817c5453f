// What a node that serves only DNS (holdfast-dns) runs of a validated config, compiled once per
// config snapshot: its dns listeners with the addresses they bind, and the answers (the zones and
// the service names, answered from the config alone: every POP serving). Nothing else of the
// config is compiled: no certificates are read, no clusters or BGP sessions are set up, so a DNS
// node needs none of what holdfast-edge needs to run them. Immutable once built; thread-safe to
// share.
#ifndef HOLDFAST_EDGE_DNSD_DNS_NODE_H_
#define HOLDFAST_EDGE_DNSD_DNS_NODE_H_

#include <asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dns/answer/engine.h"
#include "holdfast/v1/config.pb.h"

namespace holdfast::edge {

struct DnsListener {
  std::string name;
  // UDP and TCP on each, as holdfast-edge binds a dns listener.
  std::vector<asio::ip::tcp::endpoint> binds;
};

struct DnsNodeConfig {
  std::string node;
  std::string pop;
  // A digest of the whole config's content, as holdfast-edge computes it: a reload compares it.
  std::string version;
  // The config's listeners of protocol dns, in config order.
  std::vector<DnsListener> listeners;
  std::shared_ptr<const dns::DnsData> dns;
};

// Compiles what node `node` of `config` serves as a DNS-only node. `config` must have passed
// policy::LoadAndValidate without errors. NotFound when no POP has that node;
// FailedPrecondition when the config has no listener of protocol dns; InvalidArgument for zones
// or service names the dns library refuses.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const DnsNodeConfig>> CompileDnsNode(
    const v1::Config& config, std::string_view node);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_DNSD_DNS_NODE_H_
