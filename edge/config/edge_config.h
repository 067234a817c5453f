// What one edge node runs, compiled once per config snapshot from a validated holdfast.v1.Config:
// the node's listeners with the addresses they bind, the route table, and the clusters with
// their endpoints and load balancers. Workers read it through a shared_ptr<const EdgeConfig>
// and never walk protobuf on the request path. Immutable once built; thread-safe to share.
#ifndef HOLDFAST_EDGE_CONFIG_EDGE_CONFIG_H_
#define HOLDFAST_EDGE_CONFIG_EDGE_CONFIG_H_

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls/server_context.h"
#include "dns/answer/engine.h"
#include "edge/config/bgp_config.h"
#include "edge/health/active_check.h"
#include "edge/health/outlier.h"
#include "edge/overload/client_limiter.h"
#include "edge/overload/gate.h"
#include "edge/upstream/eligibility.h"
#include "edge/upstream/endpoint.h"
#include "edge/upstream/lb.h"
#include "holdfast/v1/config.pb.h"
#include "policy/config/source_map.h"

namespace holdfast::edge {

struct ClusterConfig {
  std::string name;
  // By endpoint index, the same order as `endpoints` and the balancer's.
  std::vector<asio::ip::tcp::endpoint> addresses;
  std::vector<Endpoint> endpoints;
  std::shared_ptr<const ClusterLb> lb;
  // Maglev's key: a request header (lowercase), else the client address.
  std::string hash_header;
  absl::Duration connect_timeout;
  uint32_t panic_threshold_percent = 50;
  // Locality (endpoints' priority levels): a level short of this percent healthy adds the next.
  uint32_t failover_below_percent = 70;
  uint32_t max_connections = 0;
  uint32_t max_requests = 0;
  // What the cluster's gate admits (edge/overload): the adaptive limit, under max_requests.
  GateParams gate;
  // Endpoints come from DNS (edge/discovery): empty until the name is resolved, then one
  // endpoint per address, on `dns_port`, weight 1.
  std::string dns_hostname;
  uint16_t dns_port = 0;
  absl::Duration dns_refresh;
  // Active health checks (edge/health); nullopt when the cluster configures none, and then
  // every endpoint counts as healthy.
  std::optional<ActiveCheckParams> health_check;
  // Passive outlier detection (edge/health).
  OutlierParams outlier;
};

// ComputeEligibility() with the cluster's panic threshold, endpoint weights and locality: how
// every balancer, report and metric of the node sees `health` (indexed like cluster.endpoints).
[[nodiscard]] Eligibility EligibilityOf(const ClusterConfig& cluster,
                                        std::span<const EndpointHealth> health);

struct RouteConfig {
  std::string name;
  // Lowercase. Empty matches any host; "*.example.net" any name under example.net.
  std::string host;
  std::string path_prefix;
  size_t cluster = 0;
  absl::Duration timeout;
  uint32_t retries = 0;
  bool retry_connect_failure = false;
  bool retry_5xx = false;
  bool retry_reset = false;
  // Resets and 5xx are retried for methods that are not idempotent too.
  bool retry_non_idempotent = false;
  absl::Duration per_try_timeout;
  // Under overload, critical requests go first at the cluster's gate.
  Priority priority = Priority::kNormal;

  bool Matches(std::string_view host_without_port, std::string_view path) const;
};

struct ListenerConfig {
  std::string name;
  v1::Listener::Protocol protocol = v1::Listener::PROTOCOL_UNSPECIFIED;
  // tls and https listeners: the certificates, chosen by SNI.
  std::shared_ptr<const tls::ServerTlsContext> tls;
  std::vector<asio::ip::tcp::endpoint> binds;
  // tcp and tls listeners: the target cluster's index.
  size_t cluster = 0;
  // http and https listeners: the routes that apply, in order.
  std::vector<size_t> routes;
  uint32_t max_connections = 0;
  absl::Duration idle_timeout;
  // http and https listeners: request fields named with an underscore.
  v1::Listener::HeadersWithUnderscores headers_with_underscores =
      v1::Listener::HEADERS_WITH_UNDERSCORES_DROP;
  // http and https listeners: the access log's format (unspecified: none) and file (empty:
  // standard output).
  v1::AccessLog::Format access_log_format = v1::AccessLog::FORMAT_UNSPECIFIED;
  std::string access_log_path;
  // http and https listeners: each client's token bucket, when the listener limits them; the
  // client is the value of `client_key_header` (lowercase) when set and present, else its
  // address.
  std::optional<ClientLimitParams> client_limit;
  std::string client_key_header;
};

struct EdgeConfig {
  std::string node;
  std::string pop;
  // A digest of the config's content: what /config reports and reloads compare.
  std::string version;
  std::vector<ListenerConfig> listeners;
  std::vector<RouteConfig> routes;
  std::vector<ClusterConfig> clusters;
  // What dns listeners answer from: the config's zones, and service names answered from the
  // config alone (every POP serving) until the control plane's plan says otherwise.
  std::shared_ptr<const dns::DnsData> dns;
  // What the node's BGP speaker runs and announces; null when its POP has no BGP peers.
  std::shared_ptr<const BgpConfig> bgp;
  // The validated config this was compiled from (what a control plane's plan refers to).
  std::shared_ptr<const v1::Config> source;

  // The first route of `listener` matching the request, or null (404).
  const RouteConfig* Match(const ListenerConfig& listener, std::string_view host,
                           std::string_view path) const;
};

// Compiles the part of `config` that node `node` runs, loading the TLS certificates (named
// relative to the files `sources` says wrote them). `config` must have passed
// policy::LoadAndValidate without errors. NotFound when no POP has that node; InvalidArgument
// for what this edge cannot run (a prefix with no next hop: bgp_config.h), or a certificate it
// cannot load.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const EdgeConfig>> CompileEdgeConfig(
    const v1::Config& config, const policy::SourceMap& sources, std::string_view node);

// `config` with the DNS-discovered clusters' endpoints set to `resolved` (by cluster name;
// clusters not in it keep theirs). The version says which endpoints it holds.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const EdgeConfig>> WithResolvedEndpoints(
    const EdgeConfig& config,
    const std::map<std::string, std::vector<asio::ip::address>>& resolved);

// Lowercases the Host field's name part and drops its port ("WWW.Example.net:8080" ->
// "www.example.net"); IPv6 literals keep their brackets.
std::string HostWithoutPort(std::string_view host);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_CONFIG_EDGE_CONFIG_H_
