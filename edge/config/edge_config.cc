#include "edge/config/edge_config.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/cat.h"
#include "common/proto_time.h"
#include "edge/config/dns_config.h"
#include "edge/config/node.h"

namespace holdfast::edge {
namespace {

Micros ToMicros(const google::protobuf::Duration& d) {
  return absl::ToChronoMicroseconds(FromProtoDuration(d));
}

absl::StatusOr<asio::ip::address> ParseAddress(const std::string& text) {
  asio::error_code ec;
  const asio::ip::address a = asio::ip::make_address(text, ec);
  if (ec) return absl::InvalidArgumentError(Cat("not an IP address: ", text));
  return a;
}

absl::StatusOr<LbPolicy> ToLbPolicy(v1::Cluster::LbPolicy p) {
  switch (p) {
    case v1::Cluster::LB_POLICY_ROUND_ROBIN:
      return LbPolicy::kRoundRobin;
    case v1::Cluster::LB_POLICY_LEAST_REQUEST:
      return LbPolicy::kLeastRequest;
    case v1::Cluster::LB_POLICY_MAGLEV:
      return LbPolicy::kMaglev;
    default:
      return absl::InvalidArgumentError("unknown load-balancing policy");
  }
}

// The locality level of an endpoint in POP `endpoint_pop` for a node of `self`.
uint8_t PriorityFor(const v1::Config& config, const v1::Pop& self,
                    const std::string& endpoint_pop) {
  if (endpoint_pop.empty()) return kPriorityElsewhere;
  if (endpoint_pop == self.name()) return kPriorityOwnPop;
  for (const v1::Pop& pop : config.pops()) {
    if (pop.name() == endpoint_pop) {
      return pop.region() == self.region() ? kPriorityOwnRegion : kPriorityElsewhere;
    }
  }
  return kPriorityElsewhere;
}

absl::StatusOr<ClusterConfig> CompileCluster(const v1::Config& config, const v1::Pop& self,
                                             const v1::Cluster& c) {
  ClusterConfig out;
  out.name = c.name();
  for (const v1::Endpoint& e : c.endpoints()) {
    auto address = ParseAddress(e.address());
    if (!address.ok()) return address.status();
    out.addresses.emplace_back(*address, static_cast<uint16_t>(e.port()));
    out.endpoints.push_back(
        Endpoint{Cat(e.address(), ":", e.port()), e.weight(), PriorityFor(config, self, e.pop())});
  }
  out.failover_below_percent = c.locality().failover_below_percent();
  if (c.has_dns()) {
    out.dns_hostname = c.dns().hostname();
    out.dns_port = static_cast<uint16_t>(c.dns().port());
    out.dns_refresh = FromProtoDuration(c.dns().refresh());
  }
  auto policy = ToLbPolicy(c.lb_policy());
  if (!policy.ok()) return policy.status();
  auto lb = ClusterLb::Compile(*policy, out.endpoints);
  if (!lb.ok()) return lb.status();
  out.lb = *std::move(lb);
  out.hash_header = HostWithoutPort(c.hash_on().header());  // lowercased; no ':' in a header name
  out.connect_timeout = FromProtoDuration(c.connect_timeout());
  out.panic_threshold_percent = c.panic_threshold_percent();
  out.max_connections = c.circuit_breakers().max_connections();
  out.max_requests = c.circuit_breakers().max_requests();
  const v1::AdaptiveConcurrency& ac = c.adaptive_concurrency();
  out.gate.adaptive = ac.enabled();
  out.gate.limit.min_limit = std::min(ac.min_limit(), out.max_requests);
  out.gate.limit.max_limit = out.max_requests;
  out.gate.limit.update_interval = ToMicros(ac.update_interval());
  out.gate.limit.min_rtt_interval = ToMicros(ac.min_rtt_interval());
  out.gate.limit.min_rtt_requests = ac.min_rtt_requests();
  out.gate.limit.buffer = ac.latency_buffer_percent() / 100.0;
  out.gate.max_pending = c.circuit_breakers().max_pending();
  out.gate.pending_timeout = ToMicros(c.circuit_breakers().pending_timeout());
  if (c.has_health_check()) {
    const v1::HealthCheck& hc = c.health_check();
    ActiveCheckParams& check = out.health_check.emplace();
    check.protocol = hc.protocol() == v1::HealthCheck::PROTOCOL_HTTP ? CheckProtocol::kHttp
                                                                     : CheckProtocol::kTcp;
    check.path = hc.path();
    check.host = hc.host();
    check.expected_statuses.assign(hc.expected_status().begin(), hc.expected_status().end());
    check.interval = FromProtoDuration(hc.interval());
    check.timeout = FromProtoDuration(hc.timeout());
    check.rise = hc.rise();
    check.fall = hc.fall();
  }
  out.outlier.consecutive_errors = c.outlier_detection().consecutive_errors();
  out.outlier.base_ejection_time = FromProtoDuration(c.outlier_detection().base_ejection_time());
  out.outlier.max_ejection_percent = c.outlier_detection().max_ejection_percent();
  return out;
}

}  // namespace

Eligibility EligibilityOf(const ClusterConfig& cluster, std::span<const EndpointHealth> health) {
  return ComputeEligibility(health, cluster.panic_threshold_percent, cluster.endpoints,
                            cluster.failover_below_percent);
}

std::string HostWithoutPort(std::string_view host) {
  std::string_view name = host;
  if (!name.empty() && name.front() == '[') {
    const size_t close = name.find(']');
    if (close != std::string_view::npos) name = name.substr(0, close + 1);
  } else if (const size_t colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  // A fully qualified name may end in a dot; routes are written without it.
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

bool RouteConfig::Matches(std::string_view host_without_port, std::string_view path) const {
  if (!host.empty()) {
    if (host.size() > 2 && host[0] == '*' && host[1] == '.') {
      // "*.example.net": one or more labels before ".example.net", never the bare name.
      const std::string_view suffix = std::string_view(host).substr(1);
      if (host_without_port.size() <= suffix.size() || !host_without_port.ends_with(suffix)) {
        return false;
      }
    } else if (host_without_port != host) {
      return false;
    }
  }
  return path.starts_with(path_prefix);
}

const RouteConfig* EdgeConfig::Match(const ListenerConfig& listener, std::string_view host,
                                     std::string_view path) const {
  const std::string name = HostWithoutPort(host);
  for (const size_t i : listener.routes) {
    if (routes[i].Matches(name, path)) return &routes[i];
  }
  return nullptr;
}

absl::StatusOr<std::shared_ptr<const EdgeConfig>> CompileEdgeConfig(
    const v1::Config& config, const policy::SourceMap& sources, std::string_view node) {
  auto out = std::make_shared<EdgeConfig>();
  const absl::StatusOr<NodeInConfig> found = FindNode(config, node);
  if (!found.ok()) return found.status();
  const v1::Node* self = found->node;
  out->pop = found->pop->name();
  out->node = std::string(node);
  out->version = ConfigVersion(config);

  for (const v1::Cluster& c : config.clusters()) {
    auto cluster = CompileCluster(config, *found->pop, c);
    if (!cluster.ok()) {
      return absl::InvalidArgumentError(
          Cat("cluster ", c.name(), ": ", std::string(cluster.status().message())));
    }
    out->clusters.push_back(*std::move(cluster));
  }
  auto cluster_index = [&](const std::string& name) -> absl::StatusOr<size_t> {
    for (size_t i = 0; i < out->clusters.size(); ++i) {
      if (out->clusters[i].name == name) return i;
    }
    return absl::InvalidArgumentError(Cat("no cluster named '", name, "'"));
  };

  for (const v1::Route& r : config.routes()) {
    RouteConfig route;
    route.name = r.name();
    route.host = HostWithoutPort(r.match().host());
    route.path_prefix = r.match().path_prefix();
    auto index = cluster_index(r.cluster());
    if (!index.ok()) return index.status();
    route.cluster = *index;
    route.timeout = FromProtoDuration(r.timeout());
    route.retries = r.retry().attempts();
    for (const int on : r.retry().on()) {
      route.retry_connect_failure |= on == v1::RetryPolicy::CONDITION_CONNECT_FAILURE;
      route.retry_5xx |= on == v1::RetryPolicy::CONDITION_5XX;
      route.retry_reset |= on == v1::RetryPolicy::CONDITION_RESET;
    }
    route.retry_non_idempotent = r.retry_non_idempotent();
    route.priority =
        r.priority() == v1::Route::PRIORITY_CRITICAL ? Priority::kCritical : Priority::kNormal;
    route.per_try_timeout = r.retry().has_per_try_timeout()
                                ? FromProtoDuration(r.retry().per_try_timeout())
                                : route.timeout;
    out->routes.push_back(std::move(route));
  }

  for (int li = 0; li < config.listeners_size(); ++li) {
    const v1::Listener& l = config.listeners(li);
    ListenerConfig listener;
    listener.name = l.name();
    listener.protocol = l.protocol();
    listener.max_connections = l.max_connections();
    listener.idle_timeout = FromProtoDuration(l.idle_timeout());
    listener.headers_with_underscores = l.headers_with_underscores();
    listener.access_log_format = l.access_log().format();
    listener.access_log_path = l.access_log().path();
    if (l.has_client_rate_limit()) {
      const v1::ClientRateLimit& rl = l.client_rate_limit();
      ClientLimitParams& limit = listener.client_limit.emplace();
      limit.rate = rl.requests_per_second();
      limit.burst = rl.burst() != 0
                        ? rl.burst()
                        : static_cast<uint32_t>(std::max(1.0, 2 * rl.requests_per_second()));
      limit.max_clients = rl.max_clients();
      listener.client_key_header = HostWithoutPort(rl.key_header());  // lowercased
    }
    auto binds = ListenerBinds(l, *self);
    if (!binds.ok()) {
      return absl::InvalidArgumentError(
          Cat("listener ", l.name(), ": ", std::string(binds.status().message())));
    }
    listener.binds = *std::move(binds);
    if (l.has_tls()) {
      tls::ServerTlsOptions options;
      options.min_version = l.tls().min_version();
      options.alpn.assign(l.tls().alpn().begin(), l.tls().alpn().end());
      for (int ci = 0; ci < l.tls().certificates_size(); ++ci) {
        const v1::Certificate& c = l.tls().certificates(ci);
        const std::string path = Cat("listeners[", li, "].tls.certificates[", ci, "]");
        options.certificates.push_back(
            tls::ServerCertificate{{c.sni().begin(), c.sni().end()},
                                   sources.ResolveFile(path + ".cert", c.cert()),
                                   sources.ResolveFile(path + ".key", c.key())});
      }
      auto context = tls::ServerTlsContext::Create(options);
      if (!context.ok()) {
        return absl::InvalidArgumentError(
            Cat("listener ", l.name(), ": ", std::string(context.status().message())));
      }
      listener.tls = *std::move(context);
    }
    if (!l.cluster().empty()) {
      auto index = cluster_index(l.cluster());
      if (!index.ok()) return index.status();
      listener.cluster = *index;
    }
    for (int i = 0; i < config.routes_size(); ++i) {
      const auto& only = config.routes(i).listeners();
      if (only.empty() || std::find(only.begin(), only.end(), l.name()) != only.end()) {
        listener.routes.push_back(static_cast<size_t>(i));
      }
    }
    out->listeners.push_back(std::move(listener));
  }
  auto dns = CompileDnsData(config);
  if (!dns.ok()) return dns.status();
  out->dns = *std::move(dns);
  auto bgp = CompileBgpConfig(config, node);
  if (!bgp.ok()) return bgp.status();
  out->bgp = *std::move(bgp);
  out->source = std::make_shared<const v1::Config>(config);
  return std::shared_ptr<const EdgeConfig>(std::move(out));
}

absl::StatusOr<std::shared_ptr<const EdgeConfig>> WithResolvedEndpoints(
    const EdgeConfig& config,
    const std::map<std::string, std::vector<asio::ip::address>>& resolved) {
  auto out = std::make_shared<EdgeConfig>(config);
  std::string fingerprint;
  for (ClusterConfig& c : out->clusters) {
    const auto it = resolved.find(c.name);
    if (c.dns_hostname.empty() || it == resolved.end()) continue;
    c.addresses.clear();
    c.endpoints.clear();
    for (const asio::ip::address& a : it->second) {
      c.addresses.emplace_back(a, c.dns_port);
      const std::string host = a.is_v6() ? Cat("[", a.to_string(), "]") : a.to_string();
      c.endpoints.push_back(Endpoint{Cat(host, ":", c.dns_port), 1});
      Append(fingerprint, c.name, "=", c.endpoints.back().key, ";");
    }
    auto lb = ClusterLb::Compile(c.lb->policy(), c.endpoints);
    if (!lb.ok()) return lb.status();
    c.lb = *std::move(lb);
  }
  if (!fingerprint.empty()) {
    out->version = absl::StrFormat("%s-%08x", config.version,
                                   std::hash<std::string>{}(fingerprint)&0xffffffffu);
  }
  return std::shared_ptr<const EdgeConfig>(std::move(out));
}

}  // namespace holdfast::edge
