#include "policy/validate/validator.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/net/ip.h"
#include "common/proto_time.h"
#include "google/protobuf/duration.pb.h"
#include "policy/safety/floor.h"

namespace holdfast::policy {
namespace {

using net::IpAddress;
using net::IpPrefix;

std::string Index(absl::string_view list, int i) { return absl::StrCat(list, "[", i, "]"); }

// A domain name in text form, compared without case and without the trailing dot.
std::string NormalizeName(absl::string_view name) {
  if (absl::EndsWith(name, ".")) name.remove_suffix(1);
  return absl::AsciiStrToLower(name);
}

// Why `name` is not a valid domain name (RFC 1035 section 2.3.4 lengths; letters, digits, '-'
// and '_'), or nullopt. A leading "*" label is allowed when `wildcard` is set.
std::optional<std::string> DnsNameProblem(absl::string_view name, bool wildcard = false) {
  if (absl::EndsWith(name, ".")) name.remove_suffix(1);
  if (name.empty()) return "is empty";
  if (name.size() > 253) return "is longer than 253 characters";
  int index = 0;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty()) return "has an empty label";
    if (label.size() > 63) return absl::StrCat("has the label '", label, "' over 63 characters");
    if (label == "*" && wildcard && index == 0) {
      ++index;
      continue;
    }
    for (char c : label) {
      // One byte of a multi-byte UTF-8 character is no character: quoting it alone would make
      // the message invalid UTF-8, so name the label instead.
      if (static_cast<unsigned char>(c) >= 0x80) {
        return absl::StrCat("has the non-ASCII label '", label,
                            "' (write an internationalized name in its xn-- form)");
      }
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return absl::StrCat("has the character '", std::string(1, c),
                            "' (letters, digits, '-' and '_' only)");
      }
    }
    ++index;
  }
  return std::nullopt;
}

// `name` equals `zone` or lies below it; both normalized.
bool InZone(absl::string_view name, absl::string_view zone) {
  return name == zone || (name.size() > zone.size() && absl::EndsWith(name, zone) &&
                          name[name.size() - zone.size() - 1] == '.');
}

// A certificate name ("*.example.net" or "www.example.net") covers an SNI name.
bool CertificateCovers(absl::string_view cert_name, absl::string_view sni) {
  const std::string c = NormalizeName(cert_name);
  const std::string s = NormalizeName(sni);
  if (c == s) return true;
  if (absl::StartsWith(c, "*.")) {
    const size_t dot = s.find('.');
    return dot != std::string::npos && s.substr(dot + 1) == c.substr(2) &&
           !absl::StartsWith(s, "*.");
  }
  return false;
}

class Validator {
 public:
  Validator(const v1::Config& config, const SourceMap& sources, const ValidateOptions& options)
      : c_(config), src_(sources), opts_(options) {}

  std::vector<Finding> Run() {
    IndexNames();
    CheckListeners();
    CheckRoutes();
    CheckClusters();
    CheckPrefixes();
    CheckPops();
    CheckDns();
    CheckSafety();
    CheckUnused();
    return std::move(findings_);
  }

 private:
  // ---- reporting ----------------------------------------------------------------------------

  void Report(Code code, absl::string_view path, absl::string_view message) {
    findings_.push_back(Finding{src_.Find(path), Info(code).severity, code,
                                absl::StrCat(path, ": ", message), std::string(path)});
  }
  std::string Where(absl::string_view path) const {
    const SourceLocation l = src_.Find(path);
    return absl::StrCat(l.file, ":", l.line, ":", l.column);
  }

  // ---- names --------------------------------------------------------------------------------

  // Name -> index of its first definition in its list.
  using NameIndex = absl::flat_hash_map<std::string, int>;

  // Records `name`, element `i` of `list`, in `index`; reports a duplicate with both places.
  // Empty names are skipped: the loader has reported them missing.
  void Unique(NameIndex& index, absl::string_view kind, absl::string_view list,
              const std::string& name, int i) {
    if (name.empty()) return;
    auto [it, inserted] = index.try_emplace(name, i);
    if (!inserted) {
      Report(Code::kDuplicateName, Index(list, i) + ".name",
             absl::StrCat("duplicate ", kind, " name '", name, "' (first defined at ",
                          Where(Index(list, it->second) + ".name"), ")"));
    }
  }

  void IndexNames() {
    for (int i = 0; i < c_.listeners_size(); ++i) {
      Unique(listeners_, "listener", "listeners", c_.listeners(i).name(), i);
    }
    NameIndex routes;
    for (int i = 0; i < c_.routes_size(); ++i) {
      Unique(routes, "route", "routes", c_.routes(i).name(), i);
    }
    for (int i = 0; i < c_.clusters_size(); ++i) {
      Unique(clusters_, "cluster", "clusters", c_.clusters(i).name(), i);
    }
    for (int i = 0; i < c_.prefixes_size(); ++i) {
      Unique(prefixes_, "prefix", "prefixes", c_.prefixes(i).name(), i);
    }
    // Node names are unique across the fleet: "first defined" cites the node itself.
    absl::flat_hash_map<std::string, std::string> nodes;
    for (int i = 0; i < c_.pops_size(); ++i) {
      Unique(pops_, "POP", "pops", c_.pops(i).name(), i);
      for (int j = 0; j < c_.pops(i).nodes_size(); ++j) {
        const std::string& name = c_.pops(i).nodes(j).name();
        const std::string path = absl::StrCat(Index("pops", i), ".", Index("nodes", j), ".name");
        if (name.empty()) continue;
        auto [it, inserted] = nodes.try_emplace(name, path);
        if (!inserted) {
          Report(Code::kDuplicateName, path,
                 absl::StrCat("duplicate node name '", name, "' (first defined at ",
                              Where(it->second), ")"));
        }
      }
    }
    NameIndex zones;
    for (int i = 0; i < c_.dns().zones_size(); ++i) {
      Unique(zones, "zone", "dns.zones", NormalizeName(c_.dns().zones(i).name()), i);
    }
    NameIndex services;
    for (int i = 0; i < c_.dns().services_size(); ++i) {
      Unique(services, "service", "dns.services", NormalizeName(c_.dns().services(i).name()), i);
    }
    NameIndex waves;
    for (int i = 0; i < c_.safety().rollout().waves_size(); ++i) {
      Unique(waves, "rollout wave", "safety.rollout.waves", c_.safety().rollout().waves(i).name(),
             i);
    }
  }

  // Index of the element named `name` in `index`, or -1, with a finding at `path` when `name`
  // is set but unknown.
  int Resolve(const NameIndex& index, absl::string_view kind, const std::string& name,
              const std::string& path) {
    if (name.empty()) return -1;
    if (auto it = index.find(name); it != index.end()) return it->second;
    Report(Code::kUnresolvedReference, path, absl::StrCat("no ", kind, " named '", name, "'"));
    return -1;
  }

  // ---- small checks -------------------------------------------------------------------------

  std::optional<IpAddress> Address(const std::string& text, const std::string& path) {
    std::optional<IpAddress> a = IpAddress::Parse(text);
    if (!a) {
      Report(Code::kBadAddress, path, absl::StrCat("'", text, "' is not an IPv4 or IPv6 address"));
    }
    return a;
  }

  void Port(uint32_t port, const std::string& path) {
    if (port == 0 || port > 65535) {
      Report(Code::kBadPort, path, absl::StrCat("port ", port, " is outside 1..65535"));
    }
  }

  void Positive(const google::protobuf::Duration& d, const std::string& path) {
    if (FromProtoDuration(d) <= absl::ZeroDuration()) {
      Report(Code::kOutOfRange, path, "must be longer than zero");
    }
  }

  void Range(uint64_t v, uint64_t lo, uint64_t hi, const std::string& path) {
    if (v < lo || v > hi) {
      Report(Code::kOutOfRange, path, absl::StrCat(v, " is outside ", lo, "..", hi));
    }
  }

  void DurationRange(const google::protobuf::Duration& d, absl::Duration lo, absl::Duration hi,
                     const std::string& path) {
    const absl::Duration v = FromProtoDuration(d);
    if (v < lo || v > hi) {
      Report(Code::kOutOfRange, path,
             absl::StrCat(absl::FormatDuration(v), " is outside ", absl::FormatDuration(lo), "..",
                          absl::FormatDuration(hi)));
    }
  }

  void Fraction(double v, const std::string& path) {
    if (v < 0 || v > 1) {
      Report(Code::kOutOfRange, path, absl::StrCat(v, " is outside 0..1"));
    }
  }

  void DnsName(const std::string& name, const std::string& path, bool wildcard = false) {
    if (name.empty()) return;  // required keys are the loader's
    if (auto problem = DnsNameProblem(name, wildcard)) {
      Report(Code::kBadDnsName, path, absl::StrCat("'", name, "' ", *problem));
    }
  }

  // ---- listeners ----------------------------------------------------------------------------

  void CheckListeners() {
    using P = v1::Listener;
    // Every address a listener with no address binds: all nodes' addresses.
    std::vector<IpAddress> node_addresses;
    for (const auto& pop : c_.pops()) {
      for (const auto& node : pop.nodes()) {
        for (const auto& a : node.addresses()) {
          if (auto ip = IpAddress::Parse(a)) node_addresses.push_back(*ip);
        }
      }
    }
    struct Bind {
      IpAddress address;
      bool wildcard;
      uint32_t port;
      int listener;
    };
    std::vector<Bind> binds;

    for (int i = 0; i < c_.listeners_size(); ++i) {
      const P& l = c_.listeners(i);
      const std::string path = Index("listeners", i);
      Port(l.port(), path + ".port");
      Range(l.max_connections(), 1, 10'000'000, path + ".max_connections");
      Positive(l.idle_timeout(), path + ".idle_timeout");

      const bool l4 = l.protocol() == P::PROTOCOL_TCP || l.protocol() == P::PROTOCOL_TLS;
      const bool tls = l.protocol() == P::PROTOCOL_TLS || l.protocol() == P::PROTOCOL_HTTPS;
      if (l4 && l.cluster().empty()) {
        Report(
            Code::kMissingKey, path + ".cluster",
            absl::StrCat(Article(l.protocol()), " listener forwards to a cluster: add 'cluster'"));
      } else if (l4) {
        const int k = Resolve(clusters_, "cluster", l.cluster(), path + ".cluster");
        if (k >= 0) used_clusters_.insert(l.cluster());
      } else if (!l.cluster().empty()) {
        Report(Code::kConflictingFields, path + ".cluster",
               absl::StrCat(
                   Article(l.protocol()), " listener ",
                   l.protocol() == P::PROTOCOL_DNS ? "answers DNS itself" : "forwards by routes",
                   "; 'cluster' is for tcp and tls listeners"));
      }
      if (tls) {
        CheckTls(l.tls(), path + ".tls", l.has_tls());
      } else if (l.has_tls()) {
        Report(Code::kConflictingFields, path + ".tls",
               absl::StrCat(Article(l.protocol()),
                            " listener does not terminate TLS; use protocol tls or https"));
      }

      if (l.has_access_log()) {
        const bool http = l.protocol() == P::PROTOCOL_HTTP || l.protocol() == P::PROTOCOL_HTTPS;
        if (!http) {
          Report(Code::kConflictingFields, path + ".access_log",
                 absl::StrCat(Article(l.protocol()),
                              " listener has no requests to log; access_log is for http and "
                              "https listeners"));
        } else if (!l.access_log().path().empty() && l.access_log().path().front() != '/') {
          Report(Code::kBadValue, path + ".access_log.path",
                 absl::StrCat("'", l.access_log().path(),
                              "' is not an absolute path (leave it out for standard output)"));
        }
      }
      if (l.has_client_rate_limit()) {
        const bool http = l.protocol() == P::PROTOCOL_HTTP || l.protocol() == P::PROTOCOL_HTTPS;
        const v1::ClientRateLimit& rl = l.client_rate_limit();
        const std::string rlpath = path + ".client_rate_limit";
        if (!http) {
          Report(Code::kConflictingFields, rlpath,
                 absl::StrCat(Article(l.protocol()),
                              " listener has no requests to limit; client_rate_limit is for http "
                              "and https listeners"));
        }
        if (!(rl.requests_per_second() > 0 && rl.requests_per_second() <= 1'000'000)) {
          Report(Code::kOutOfRange, rlpath + ".requests_per_second",
                 absl::StrCat(rl.requests_per_second(), " is outside (0, 1000000]"));
        }
        if (rl.burst() != 0) Range(rl.burst(), 1, 1'000'000, rlpath + ".burst");
        Range(rl.max_clients(), 1, 10'000'000, rlpath + ".max_clients");
      }

      if (l.address().empty()) {
        for (const IpAddress& a : node_addresses) binds.push_back({a, false, l.port(), i});
      } else if (auto a = Address(l.address(), path + ".address")) {
        const bool wildcard = a->bytes() == std::array<uint8_t, 16>{};
        binds.push_back({*a, wildcard, l.port(), i});
      }
    }

    // Two listeners clash when they share a port and an address, or one binds the wildcard
    // address of the other's family. DNS takes UDP and TCP, so any protocol clashes with it.
    absl::flat_hash_set<std::pair<int, int>> reported;
    for (size_t x = 0; x < binds.size(); ++x) {
      for (size_t y = 0; y < x; ++y) {
        const Bind& a = binds[x];
        const Bind& b = binds[y];
        if (a.listener == b.listener || a.port != b.port) continue;
        if (a.address.family() != b.address.family()) continue;
        if (!(a.address == b.address || a.wildcard || b.wildcard)) continue;
        if (!reported.insert({a.listener, b.listener}).second) continue;
        const std::string pa = Index("listeners", a.listener);
        const std::string pb = Index("listeners", b.listener);
        Report(Code::kListenerConflict, pa + ".port",
               absl::StrCat("listener '", c_.listeners(a.listener).name(), "' and listener '",
                            c_.listeners(b.listener).name(), "' (at ", Where(pb), ") both bind ",
                            a.wildcard ? b.address.ToString() : a.address.ToString(), " port ",
                            a.port));
      }
    }
  }

  static std::string ProtocolName(v1::Listener::Protocol p) {
    return absl::AsciiStrToLower(v1::Listener::Protocol_Name(p).substr(sizeof("PROTOCOL_") - 1));
  }
  // "a tcp", "an http": the article goes by how the name is read out, letter by letter.
  static std::string Article(v1::Listener::Protocol p) {
    const std::string name = ProtocolName(p);
    return absl::StrCat(name[0] == 'h' ? "an " : "a ", name);
  }

  void CheckTls(const v1::Tls& tls, const std::string& path, bool present) {
    if (!present || tls.certificates().empty()) {
      Report(Code::kMissingElement, present ? path + ".certificates" : path,
             "a tls or https listener needs at least one certificate under tls.certificates");
      return;
    }
    if (tls.min_version() != "1.2" && tls.min_version() != "1.3") {
      Report(Code::kBadValue, path + ".min_version",
             absl::StrCat("'", tls.min_version(), "' is not a TLS version: use 1.2 or 1.3"));
    }
    for (int j = 0; j < tls.alpn_size(); ++j) {
      if (tls.alpn(j).empty() || tls.alpn(j).size() > 255) {
        Report(Code::kBadValue, Index(path + ".alpn", j),
               "an ALPN protocol name is 1 to 255 bytes (RFC 7301, section 3.1)");
      }
    }
    for (int j = 0; j < tls.certificates_size(); ++j) {
      const v1::Certificate& cert = tls.certificates(j);
      const std::string cpath = Index(path + ".certificates", j);
      for (int k = 0; k < cert.sni_size(); ++k) {
        DnsName(cert.sni(k), Index(cpath + ".sni", k), /*wildcard=*/true);
      }
      if (opts_.inspect_tls && !cert.cert().empty() && !cert.key().empty()) {
        CheckCertificateFiles(cert, cpath);
      }
    }
  }

  // Certificate paths are relative to the file that names them.
  void CheckCertificateFiles(const v1::Certificate& cert, const std::string& cpath) {
    const std::string cert_file = src_.ResolveFile(cpath + ".cert", cert.cert());
    const std::string key_file = src_.ResolveFile(cpath + ".key", cert.key());
    absl::StatusOr<tls::CertificateFacts> facts = opts_.inspect_tls(cert_file, key_file);
    if (!facts.ok()) {
      const bool about_key = absl::StartsWith(facts.status().message(), "key");
      const Code code = facts.status().code() == absl::StatusCode::kInvalidArgument
                            ? Code::kTlsParse
                            : Code::kTlsUnreadable;
      Report(code, cpath + (about_key ? ".key" : ".cert"), facts.status().message());
      return;
    }
    if (!facts->key_matches) {
      Report(Code::kTlsKeyMismatch, cpath + ".key",
             absl::StrCat("key '", key_file, "' does not belong to certificate '", cert_file, "'"));
    }
    if (opts_.now >= facts->not_after) {
      Report(Code::kTlsExpired, cpath + ".cert",
             absl::StrCat(
                 "certificate '", cert_file, "' expired at ",
                 absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", facts->not_after, absl::UTCTimeZone())));
    } else if (opts_.now < facts->not_before) {
      Report(Code::kTlsExpired, cpath + ".cert",
             absl::StrCat(
                 "certificate '", cert_file, "' is not valid before ",
                 absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", facts->not_before, absl::UTCTimeZone())));
    } else if (facts->not_after - opts_.now < kCertificateExpiryWarning) {
      Report(Code::kTlsExpiring, cpath + ".cert",
             absl::StrCat(
                 "certificate '", cert_file, "' expires in ",
                 absl::ToInt64Hours(facts->not_after - opts_.now) / 24, " days, at ",
                 absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", facts->not_after, absl::UTCTimeZone())));
    }
    for (int k = 0; k < cert.sni_size(); ++k) {
      const bool covered =
          std::any_of(facts->names.begin(), facts->names.end(),
                      [&](const std::string& n) { return CertificateCovers(n, cert.sni(k)); });
      if (!covered) {
        Report(Code::kTlsNameMismatch, Index(cpath + ".sni", k),
               absl::StrCat("certificate '", cert_file, "' does not cover '", cert.sni(k),
                            "' (it names ", absl::StrJoin(facts->names, ", "), ")"));
      }
    }
  }

  // ---- routes -------------------------------------------------------------------------------

  void CheckRoutes() {
    for (int i = 0; i < c_.routes_size(); ++i) {
      const v1::Route& r = c_.routes(i);
      const std::string path = Index("routes", i);
      if (Resolve(clusters_, "cluster", r.cluster(), path + ".cluster") >= 0) {
        used_clusters_.insert(r.cluster());
      }
      const std::string& host = r.match().host();
      if (!host.empty()) {
        if (host.find(':') != std::string::npos) {
          Report(Code::kBadRouteMatch, path + ".match.host",
                 absl::StrCat("'", host, "': match the host without a port"));
        } else if (auto problem = DnsNameProblem(host, /*wildcard=*/true)) {
          Report(Code::kBadRouteMatch, path + ".match.host",
                 absl::StrCat("'", host, "' ", *problem));
        }
      }
      if (!absl::StartsWith(r.match().path_prefix(), "/")) {
        Report(Code::kBadRouteMatch, path + ".match.path_prefix",
               absl::StrCat("'", r.match().path_prefix(),
                            "' never matches: request paths start with '/'"));
      }
      Positive(r.timeout(), path + ".timeout");
      Range(r.retry().attempts(), 0, 10, path + ".retry.attempts");
      if (r.retry().has_per_try_timeout()) {
        Positive(r.retry().per_try_timeout(), path + ".retry.per_try_timeout");
        if (FromProtoDuration(r.retry().per_try_timeout()) > FromProtoDuration(r.timeout())) {
          Report(Code::kOutOfRange, path + ".retry.per_try_timeout",
                 "is longer than the route's timeout, so no retry would ever start");
        }
      }
      for (int j = 0; j < r.listeners_size(); ++j) {
        const std::string lpath = Index(path + ".listeners", j);
        const int k = Resolve(listeners_, "listener", r.listeners(j), lpath);
        if (k < 0) continue;
        const auto p = c_.listeners(k).protocol();
        if (p != v1::Listener::PROTOCOL_HTTP && p != v1::Listener::PROTOCOL_HTTPS) {
          Report(Code::kConflictingFields, lpath,
                 absl::StrCat("listener '", r.listeners(j), "' is ", ProtocolName(p),
                              "; routes apply to http and https listeners"));
        }
      }
    }
  }

  // ---- clusters -----------------------------------------------------------------------------

  void CheckClusters() {
    for (int i = 0; i < c_.clusters_size(); ++i) {
      const v1::Cluster& cl = c_.clusters(i);
      const std::string path = Index("clusters", i);
      if (cl.endpoints_size() > 0 && cl.has_dns()) {
        Report(Code::kConflictingFields, path + ".dns",
               "a cluster has static 'endpoints' or 'dns', not both");
      } else if (cl.endpoints_size() == 0 && !cl.has_dns()) {
        Report(
            Code::kMissingElement, path,
            absl::StrCat("cluster '", cl.name(), "' has no endpoints: add 'endpoints' or 'dns'"));
      }
      absl::flat_hash_map<std::string, std::string> seen;
      for (int j = 0; j < cl.endpoints_size(); ++j) {
        const v1::Endpoint& e = cl.endpoints(j);
        const std::string epath = Index(path + ".endpoints", j);
        std::optional<IpAddress> a = Address(e.address(), epath + ".address");
        Port(e.port(), epath + ".port");
        Range(e.weight(), 1, 1000, epath + ".weight");
        Resolve(pops_, "POP", e.pop(), epath + ".pop");
        if (a) {
          const std::string key = absl::StrCat(a->ToString(), " port ", e.port());
          auto [it, inserted] = seen.try_emplace(key, epath);
          if (!inserted) {
            Report(Code::kDuplicateName, epath,
                   absl::StrCat("endpoint ", key, " is listed twice (first at ", Where(it->second),
                                ")"));
          }
        }
      }
      if (cl.has_dns()) {
        DnsName(cl.dns().hostname(), path + ".dns.hostname");
        Port(cl.dns().port(), path + ".dns.port");
        Positive(cl.dns().refresh(), path + ".dns.refresh");
      }
      const bool maglev = cl.lb_policy() == v1::Cluster::LB_POLICY_MAGLEV;
      const bool has_key = !cl.hash_on().header().empty() || cl.hash_on().client_address();
      if (maglev && !has_key) {
        Report(Code::kMissingKey, path + ".lb_policy",
               "maglev hashes a key: add hash_on.header or hash_on.client_address");
      } else if (!maglev && cl.has_hash_on()) {
        Report(Code::kConflictingFields, path + ".hash_on",
               "hash_on is only used by lb_policy maglev");
      } else if (!cl.hash_on().header().empty() && cl.hash_on().client_address()) {
        Report(Code::kConflictingFields, path + ".hash_on",
               "hash on a header or on the client address, not both");
      }
      Positive(cl.connect_timeout(), path + ".connect_timeout");
      if (cl.has_health_check()) CheckHealth(cl.health_check(), path + ".health_check");
      const v1::OutlierDetection& od = cl.outlier_detection();
      Range(od.max_ejection_percent(), 0, 100, path + ".outlier_detection.max_ejection_percent");
      if (od.consecutive_errors() > 0) {
        Positive(od.base_ejection_time(), path + ".outlier_detection.base_ejection_time");
      }
      Range(cl.panic_threshold_percent(), 0, 100, path + ".panic_threshold_percent");
      Range(cl.locality().failover_below_percent(), 1, 100,
            path + ".locality.failover_below_percent");
      const v1::CircuitBreakers& cb = cl.circuit_breakers();
      Range(cb.max_connections(), 1, 10'000'000, path + ".circuit_breakers.max_connections");
      Range(cb.max_pending(), 1, 10'000'000, path + ".circuit_breakers.max_pending");
      Range(cb.max_requests(), 1, 10'000'000, path + ".circuit_breakers.max_requests");
      DurationRange(cb.pending_timeout(), absl::ZeroDuration(), absl::Seconds(60),
                    path + ".circuit_breakers.pending_timeout");
      const v1::AdaptiveConcurrency& ac = cl.adaptive_concurrency();
      const std::string acpath = path + ".adaptive_concurrency";
      Range(ac.min_limit(), 1, 1000, acpath + ".min_limit");
      DurationRange(ac.update_interval(), absl::Milliseconds(10), absl::Seconds(10),
                    acpath + ".update_interval");
      DurationRange(ac.min_rtt_interval(), absl::Seconds(1), absl::Hours(1),
                    acpath + ".min_rtt_interval");
      Range(ac.min_rtt_requests(), 1, 10'000, acpath + ".min_rtt_requests");
      Range(ac.latency_buffer_percent(), 0, 1000, acpath + ".latency_buffer_percent");
    }
  }

  void CheckHealth(const v1::HealthCheck& hc, const std::string& path) {
    const absl::Duration interval = FromProtoDuration(hc.interval());
    const absl::Duration timeout = FromProtoDuration(hc.timeout());
    if (interval <= absl::ZeroDuration()) {
      Report(Code::kHealthCheck, path + ".interval", "must be longer than zero");
    }
    if (timeout <= absl::ZeroDuration()) {
      Report(Code::kHealthCheck, path + ".timeout", "must be longer than zero");
    } else if (timeout >= interval && interval > absl::ZeroDuration()) {
      Report(Code::kHealthCheck, path + ".timeout",
             absl::StrCat("timeout ", absl::FormatDuration(timeout), " is not below the interval ",
                          absl::FormatDuration(interval), ": checks would overlap"));
    }
    if (hc.rise() < 1) Report(Code::kHealthCheck, path + ".rise", "must be at least 1");
    if (hc.fall() < 1) Report(Code::kHealthCheck, path + ".fall", "must be at least 1");
    if (hc.protocol() == v1::HealthCheck::PROTOCOL_HTTP) {
      if (!absl::StartsWith(hc.path(), "/")) {
        Report(Code::kHealthCheck, path + ".path",
               absl::StrCat("'", hc.path(), "' is not an HTTP path: start it with '/'"));
      }
      for (int k = 0; k < hc.expected_status_size(); ++k) {
        Range(hc.expected_status(k), 100, 599, Index(path + ".expected_status", k));
      }
    }
  }

  // ---- prefixes -----------------------------------------------------------------------------

  void CheckPrefixes() {
    parsed_prefixes_.resize(static_cast<size_t>(c_.prefixes_size()));
    for (int i = 0; i < c_.prefixes_size(); ++i) {
      const v1::Prefix& p = c_.prefixes(i);
      const std::string path = Index("prefixes", i);
      if (p.has_floor()) CheckFloorFields(p.floor(), path + ".floor");
      if (p.on_unhealthy().kind() == v1::UnhealthyAction::KIND_DEPREFER) {
        Range(p.on_unhealthy().as_path_prepend(), 1, 10, path + ".on_unhealthy.as_path_prepend");
        if (const double f = p.on_unhealthy().dns_weight_fraction(); !(f > 0 && f <= 1)) {
          Report(Code::kOutOfRange, path + ".on_unhealthy.dns_weight_fraction",
                 absl::StrCat(f,
                              " is outside 0..1 or is 0: a de-preferred POP keeps some weight "
                              "(kind: withdraw takes it out)"));
        }
      }
      if (p.cidr().empty()) continue;
      absl::StatusOr<IpPrefix> parsed = IpPrefix::Parse(p.cidr());
      if (!parsed.ok()) {
        Report(Code::kBadPrefix, path + ".cidr", parsed.status().message());
        continue;
      }
      parsed_prefixes_[static_cast<size_t>(i)] = *parsed;
      // An overlap means two services' traffic would land on each other's POPs.
      for (int j = 0; j < i; ++j) {
        const auto& other = parsed_prefixes_[static_cast<size_t>(j)];
        if (!other || !other->Overlaps(*parsed)) continue;
        if (p.shared() && c_.prefixes(j).shared()) continue;
        Report(Code::kPrefixConflict, path + ".cidr",
               absl::StrCat("prefix '", p.name(), "' (", p.cidr(), ") overlaps prefix '",
                            c_.prefixes(j).name(), "' (", c_.prefixes(j).cidr(), ", at ",
                            Where(Index("prefixes", j) + ".cidr"),
                            "); mark both 'shared: true' if that is intended"));
      }
    }
  }

  void CheckFloorFields(const v1::Floor& f, const std::string& path) {
    if (f.has_min_fraction()) Fraction(f.min_fraction(), path + ".min_fraction");
  }

  // ---- POPs ---------------------------------------------------------------------------------

  void CheckPops() {
    absl::flat_hash_map<std::string, std::string> node_addresses;
    for (int i = 0; i < c_.pops_size(); ++i) {
      const v1::Pop& pop = c_.pops(i);
      const std::string path = Index("pops", i);
      Range(pop.capacity_weight(), 1, 1'000'000, path + ".capacity_weight");
      if (pop.nodes().empty()) {
        Report(Code::kMissingElement, path + ".nodes",
               absl::StrCat("POP '", pop.name(), "' has no nodes"));
      }
      for (int j = 0; j < pop.nodes_size(); ++j) {
        const v1::Node& node = pop.nodes(j);
        const std::string npath = Index(path + ".nodes", j);
        if (node.addresses().empty()) {
          Report(Code::kMissingElement, npath + ".addresses",
                 absl::StrCat("node '", node.name(), "' has no addresses"));
        }
        for (int k = 0; k < node.addresses_size(); ++k) {
          const std::string apath = Index(npath + ".addresses", k);
          if (auto a = Address(node.addresses(k), apath)) {
            auto [it, inserted] = node_addresses.try_emplace(a->ToString(), apath);
            if (!inserted) {
              Report(Code::kDuplicateName, apath,
                     absl::StrCat("address ", a->ToString(), " is already a node's (at ",
                                  Where(it->second), ")"));
            }
          }
        }
      }
      if (pop.has_bgp()) CheckBgp(pop.bgp(), path + ".bgp");
      if (pop.announce_size() > 0 && pop.bgp().peers().empty()) {
        Report(Code::kMissingElement, pop.has_bgp() ? path + ".bgp" : path + ".announce",
               absl::StrCat("POP '", pop.name(),
                            "' announces prefixes but has no BGP peers to announce them to"));
      }
      absl::flat_hash_map<std::string, std::string> announced;
      for (int j = 0; j < pop.announce_size(); ++j) {
        const v1::Announcement& an = pop.announce(j);
        const std::string apath = Index(path + ".announce", j);
        const int k = Resolve(prefixes_, "prefix", an.prefix(), apath + ".prefix");
        if (!an.prefix().empty()) {
          auto [it, inserted] = announced.try_emplace(an.prefix(), apath);
          if (!inserted) {
            Report(
                Code::kDuplicateName, apath + ".prefix",
                absl::StrCat("prefix '", an.prefix(), "' is announced twice by this POP (first at ",
                             Where(it->second), ")"));
          }
        }
        const std::optional<IpPrefix> prefix =
            k >= 0 ? parsed_prefixes_[static_cast<size_t>(k)] : std::nullopt;
        for (int v = 0; v < an.vips_size(); ++v) {
          const std::string vpath = Index(apath + ".vips", v);
          std::optional<IpAddress> vip = Address(an.vips(v), vpath);
          if (vip && prefix && !prefix->Contains(*vip)) {
            Report(Code::kVipOutsidePrefix, vpath,
                   absl::StrCat("VIP ", an.vips(v), " is outside prefix '", an.prefix(), "' (",
                                prefix->ToString(), ")"));
          }
        }
        Range(an.as_path_prepend(), 0, 10, apath + ".as_path_prepend");
        for (int m = 0; m < an.communities_size(); ++m) {
          CheckCommunity(an.communities(m), Index(apath + ".communities", m));
        }
      }
    }
  }

  void CheckBgp(const v1::Bgp& bgp, const std::string& path) {
    CheckAsn(bgp.local_asn(), path + ".local_asn");
    if (!bgp.router_id().empty()) {
      std::optional<IpAddress> id = Address(bgp.router_id(), path + ".router_id");
      if (id && !id->is_v4()) {
        Report(Code::kBadAddress, path + ".router_id",
               "a BGP identifier is an IPv4 address (RFC 4271, section 4.2)");
      }
    }
    absl::flat_hash_map<std::string, std::string> peers;
    for (int j = 0; j < bgp.peers_size(); ++j) {
      const v1::BgpPeer& peer = bgp.peers(j);
      const std::string ppath = Index(path + ".peers", j);
      if (std::optional<IpAddress> a = Address(peer.address(), ppath + ".address")) {
        auto [it, inserted] = peers.try_emplace(a->ToString(), ppath);
        if (!inserted) {
          Report(Code::kDuplicateName, ppath + ".address",
                 absl::StrCat("peer ", peer.address(), " is listed twice (first at ",
                              Where(it->second), ")"));
        }
      }
      Port(peer.port(), ppath + ".port");
      CheckAsn(peer.asn(), ppath + ".asn");
      const absl::Duration hold = FromProtoDuration(peer.hold_time());
      // RFC 4271, section 4.2: the hold time is zero or at least three seconds, in 16 bits.
      if (hold != absl::ZeroDuration() &&
          (hold < absl::Seconds(3) || hold > absl::Seconds(65535))) {
        Report(Code::kOutOfRange, ppath + ".hold_time",
               absl::StrCat("hold time ", absl::FormatDuration(hold),
                            " must be 0 or 3s..65535s (RFC 4271, section 4.2)"));
      }
      const absl::Duration retry = FromProtoDuration(peer.connect_retry());
      if (retry < absl::Seconds(1) || retry > absl::Seconds(65535)) {
        Report(Code::kOutOfRange, ppath + ".connect_retry",
               absl::StrCat("connect retry ", absl::FormatDuration(retry), " must be 1s..65535s"));
      }
      const absl::Duration restart = FromProtoDuration(peer.graceful_restart().restart_time());
      if (restart < absl::Seconds(1) || restart > absl::Seconds(4095)) {
        Report(Code::kOutOfRange, ppath + ".graceful_restart.restart_time",
               absl::StrCat("restart time ", absl::FormatDuration(restart),
                            " must be 1s..4095s (12 bits, RFC 4724, section 3)"));
      }
      if (peer.has_bfd()) {
        const absl::Duration interval = FromProtoDuration(peer.bfd().interval());
        if (interval < absl::Milliseconds(10) || interval > absl::Seconds(60)) {
          Report(
              Code::kOutOfRange, ppath + ".bfd.interval",
              absl::StrCat("BFD interval ", absl::FormatDuration(interval), " must be 10ms..60s"));
        }
        if (peer.bfd().multiplier() < 1 || peer.bfd().multiplier() > 255) {
          Report(Code::kOutOfRange, ppath + ".bfd.multiplier",
                 absl::StrCat("BFD multiplier ", peer.bfd().multiplier(),
                              " must be 1..255 (RFC 5880, section 4.1: 8 bits, not 0)"));
        }
      }
    }
  }

  void CheckAsn(uint32_t asn, const std::string& path) {
    // 0 is reserved (RFC 7607); 23456 is AS_TRANS, a stand-in for 4-octet ASNs (RFC 6793).
    if (asn == 0 || asn == 23456) {
      Report(Code::kOutOfRange, path,
             absl::StrCat("ASN ", asn, " is reserved (",
                          asn == 0 ? "RFC 7607" : "AS_TRANS, RFC 6793", ")"));
    }
  }

  void CheckCommunity(const std::string& text, const std::string& path) {
    const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
    bool ok = parts.size() == 2 || parts.size() == 3;
    for (absl::string_view part : parts) {
      uint64_t v = 0;
      const uint64_t max = parts.size() == 2 ? 65535 : 4294967295;
      if (!ok || part.empty() || !absl::SimpleAtoi(part, &v) || v > max) ok = false;
    }
    if (!ok) {
      Report(Code::kBadCommunity, path,
             absl::StrCat("'", text,
                          "' is not a community: ASN:VALUE with 16-bit parts (RFC 1997) or "
                          "ASN:DATA1:DATA2 with 32-bit parts (RFC 8092)"));
    }
  }

  // ---- DNS ----------------------------------------------------------------------------------

  // The zone (normalized apex) a normalized name falls in: the longest apex that contains it.
  std::optional<std::string> ZoneOf(const std::string& name) const {
    std::optional<std::string> best;
    for (const auto& zone : c_.dns().zones()) {
      const std::string apex = NormalizeName(zone.name());
      if (InZone(name, apex) && (!best || apex.size() > best->size())) best = apex;
    }
    return best;
  }

  void CheckDns() {
    // Owner name -> (type, path) of every static record, for the CNAME rules.
    absl::flat_hash_map<std::string, std::vector<std::pair<v1::Record::Type, std::string>>> owners;
    for (int i = 0; i < c_.dns().zones_size(); ++i) {
      const v1::Zone& z = c_.dns().zones(i);
      const std::string path = Index("dns.zones", i);
      DnsName(z.name(), path + ".name");
      const std::string apex = NormalizeName(z.name());
      if (z.ns().empty()) {
        Report(Code::kMissingElement, path + ".ns",
               absl::StrCat("zone '", z.name(), "' has no 'ns': list its name servers"));
      }
      for (int j = 0; j < z.ns_size(); ++j) DnsName(z.ns(j), Index(path + ".ns", j));
      DnsName(z.soa().mname(), path + ".soa.mname");
      DnsName(z.soa().rname(), path + ".soa.rname");
      for (int j = 0; j < z.records_size(); ++j) {
        const v1::Record& r = z.records(j);
        const std::string rpath = Index(path + ".records", j);
        std::string owner;
        if (r.name() == "@") {
          owner = apex;
        } else if (absl::EndsWith(r.name(), ".")) {
          owner = NormalizeName(r.name());
        } else if (!r.name().empty()) {
          owner = NormalizeName(absl::StrCat(r.name(), ".", apex));
        }
        if (r.name() != "@") DnsName(r.name(), rpath + ".name", /*wildcard=*/true);
        if (!owner.empty() && !apex.empty() && !InZone(owner, apex)) {
          Report(Code::kBadDnsName, rpath + ".name",
                 absl::StrCat("'", r.name(), "' is outside zone '", z.name(), "'"));
        }
        CheckRecordData(r, rpath, owner == apex);
        if (!owner.empty()) owners[owner].emplace_back(r.type(), rpath);
      }
    }
    for (const auto& [owner, records] : owners) {
      // RFC 1034, section 3.6.2: a CNAME owner has no other data.
      const auto cname = std::find_if(records.begin(), records.end(), [](const auto& r) {
        return r.first == v1::Record::TYPE_CNAME;
      });
      if (cname == records.end() || records.size() == 1) continue;
      for (const auto& [type, rpath] : records) {
        if (rpath == cname->second) continue;
        Report(Code::kBadRecord, rpath,
               absl::StrCat("'", owner, "' has a CNAME (at ", Where(cname->second),
                            "), so it can have no other record (RFC 1034, section 3.6.2)"));
      }
    }

    // prefix name -> where a service first uses it
    absl::flat_hash_map<std::string, std::string> prefix_service;
    for (int i = 0; i < c_.dns().services_size(); ++i) {
      const v1::ServiceName& s = c_.dns().services(i);
      const std::string path = Index("dns.services", i);
      DnsName(s.name(), path + ".name");
      const std::string name = NormalizeName(s.name());
      if (!name.empty() && !DnsNameProblem(name) && !ZoneOf(name)) {
        Report(Code::kBadDnsName, path + ".name",
               absl::StrCat("'", s.name(), "' is in none of the zones under dns.zones"));
      }
      if (auto it = owners.find(name); it != owners.end()) {
        Report(Code::kBadRecord, path + ".name",
               absl::StrCat("'", s.name(), "' is a service name and also has static records (at ",
                            Where(it->second.front().second), ")"));
      }
      if (s.prefixes().empty()) {
        Report(Code::kMissingElement, path + ".prefixes",
               absl::StrCat("service '", s.name(), "' needs 'prefixes' to answer from"));
      }
      for (int j = 0; j < s.prefixes_size(); ++j) {
        const std::string ppath = Index(path + ".prefixes", j);
        const int k = Resolve(prefixes_, "prefix", s.prefixes(j), ppath);
        if (k < 0 || c_.prefixes(k).shared()) continue;
        auto [it, inserted] = prefix_service.try_emplace(s.prefixes(j), ppath);
        if (!inserted) {
          Report(Code::kPrefixConflict, ppath,
                 absl::StrCat("prefix '", s.prefixes(j), "' already serves another service (at ",
                              Where(it->second),
                              "); mark the prefix 'shared: true' if both should use it"));
        }
      }
      Range(s.ttl(), 0, 604800, path + ".ttl");
      Range(s.max_records(), 1, 64, path + ".max_records");
      if (s.has_floor()) CheckFloorFields(s.floor(), path + ".floor");
    }
  }

  void CheckRecordData(const v1::Record& r, const std::string& rpath, bool at_apex) {
    const std::string vpath = rpath + ".value";
    switch (r.type()) {
      case v1::Record::TYPE_A:
      case v1::Record::TYPE_AAAA: {
        const bool want_v4 = r.type() == v1::Record::TYPE_A;
        std::optional<IpAddress> a = IpAddress::Parse(r.value());
        if (!a || a->is_v4() != want_v4) {
          Report(Code::kBadRecord, vpath,
                 absl::StrCat("'", r.value(), "' is not an ", want_v4 ? "IPv4" : "IPv6",
                              " address, as an ", want_v4 ? "A" : "AAAA", " record needs"));
        }
        break;
      }
      case v1::Record::TYPE_CNAME:
        if (at_apex) {
          Report(Code::kBadRecord, rpath + ".name",
                 "a zone's apex cannot be a CNAME: it has SOA and NS records (RFC 1034, "
                 "section 3.6.2)");
        }
        [[fallthrough]];
      case v1::Record::TYPE_NS:
      case v1::Record::TYPE_MX:
        if (auto problem = DnsNameProblem(r.value())) {
          Report(Code::kBadRecord, vpath, absl::StrCat("'", r.value(), "' ", *problem));
        }
        if (r.type() == v1::Record::TYPE_MX) Range(r.priority(), 0, 65535, rpath + ".priority");
        break;
      case v1::Record::TYPE_TXT:
        if (r.value().size() > 65000) {
          Report(Code::kBadRecord, vpath, "TXT data longer than a DNS message can carry");
        }
        break;
      default:
        break;
    }
    if (r.type() != v1::Record::TYPE_MX && r.priority() != 0) {
      Report(Code::kConflictingFields, rpath + ".priority", "priority is for MX records only");
    }
  }

  // ---- safety -------------------------------------------------------------------------------

  // POPs announcing the named prefix; with `with_vips`, only those with VIPs in it.
  std::vector<const v1::Pop*> Announcers(const std::string& prefix, bool with_vips) const {
    std::vector<const v1::Pop*> out;
    for (const v1::Pop& pop : c_.pops()) {
      for (const v1::Announcement& an : pop.announce()) {
        if (an.prefix() == prefix && (!with_vips || an.vips_size() > 0)) {
          out.push_back(&pop);
          break;
        }
      }
    }
    return out;
  }

  static std::string PopNames(const std::vector<const v1::Pop*>& pops) {
    if (pops.empty()) return "none";
    return absl::StrJoin(pops, ", ",
                         [](std::string* out, const v1::Pop* p) { out->append(p->name()); });
  }

  // Checks one floor. `own` says whether the prefix or service at `owner_path` sets a floor of
  // its own; a zero it merely inherits is reported once, at the default (see CheckSafety).
  void CheckFloor(const EffectiveFloor& floor, absl::string_view what,
                  const std::vector<const v1::Pop*>& eligible, bool own,
                  const std::string& owner_path) {
    const std::string path = own ? owner_path + ".floor" : owner_path;
    const auto n = static_cast<uint32_t>(eligible.size());
    const uint32_t count = FloorCount(floor, n);
    if (count == 0 && !floor.allow_zero) {
      if (!own) {
        zero_by_default_.emplace_back(what);
        return;
      }
      Report(Code::kFloorZero, path,
             absl::StrCat(what,
                          " has a floor of 0 POPs, so health could withdraw it everywhere; set "
                          "min_pops or min_fraction, or allow_zero: true if that is wanted"));
    } else if (count > n) {
      Report(Code::kFloorUnsatisfiable, path,
             absl::StrCat(what, " needs at least ", count, " POPs (min_pops ", floor.min_pops,
                          ", min_fraction ", floor.min_fraction, ") but only ", n,
                          " can serve it: ", PopNames(eligible)));
    }
  }

  void CheckSafety() {
    const v1::Safety& safety = c_.safety();
    Fraction(safety.default_floor().min_fraction(), "safety.default_floor.min_fraction");
    Positive(safety.withdrawal_rate().window(), "safety.withdrawal_rate.window");
    if (safety.correlated_failure().fraction() <= 0 || safety.correlated_failure().fraction() > 1) {
      Report(Code::kOutOfRange, "safety.correlated_failure.fraction",
             absl::StrCat(safety.correlated_failure().fraction(), " is outside (0, 1]"));
    }
    Positive(safety.correlated_failure().window(), "safety.correlated_failure.window");
    const v1::HealthPolicy& health = safety.health();
    Positive(health.stale_after(), "safety.health.stale_after");
    Fraction(health.min_healthy_fraction(), "safety.health.min_healthy_fraction");
    Fraction(health.shared_fault_fraction(), "safety.health.shared_fault_fraction");
    Range(health.withdraw_after(), 1, 1000, "safety.health.withdraw_after");
    Range(health.restore_after(), 1, 1000, "safety.health.restore_after");
    for (int i = 0; i < safety.rollout().waves_size(); ++i) {
      const v1::RolloutWave& w = safety.rollout().waves(i);
      const std::string path = Index("safety.rollout.waves", i);
      if (w.pops_size() > 0 && w.fraction() != 0) {
        Report(Code::kConflictingFields, path,
               "a wave names its POPs or a fraction of the fleet, not both");
      } else if (w.pops_size() == 0 && w.fraction() == 0) {
        Report(Code::kMissingElement, path, "a wave needs 'pops' or 'fraction'");
      }
      Fraction(w.fraction(), path + ".fraction");
      for (int j = 0; j < w.pops_size(); ++j) {
        Resolve(pops_, "POP", w.pops(j), Index(path + ".pops", j));
      }
    }

    for (int i = 0; i < c_.prefixes_size(); ++i) {
      const v1::Prefix& p = c_.prefixes(i);
      const std::string path = Index("prefixes", i);
      const std::vector<const v1::Pop*> eligible = Announcers(p.name(), false);
      if (eligible.empty()) {
        Report(Code::kPrefixUnannounced, path,
               absl::StrCat("no POP announces prefix '", p.name(), "'"));
        continue;
      }
      CheckFloor(PrefixFloor(c_, p), absl::StrCat("prefix '", p.name(), "'"), eligible,
                 p.has_floor(), path);
    }
    for (int i = 0; i < c_.dns().services_size(); ++i) {
      const v1::ServiceName& s = c_.dns().services(i);
      const std::string path = Index("dns.services", i);
      // A POP serves the name when it announces one of its prefixes with VIPs to hand out.
      std::vector<const v1::Pop*> eligible;
      for (const std::string& prefix : s.prefixes()) {
        for (const v1::Pop* pop : Announcers(prefix, true)) {
          if (std::find(eligible.begin(), eligible.end(), pop) == eligible.end()) {
            eligible.push_back(pop);
          }
        }
      }
      CheckFloor(ServiceFloor(c_, s), absl::StrCat("service '", s.name(), "'"), eligible,
                 s.has_floor(), path);
      std::set<std::string> regions;
      for (const v1::Pop* pop : eligible) regions.insert(pop->region());
      if (regions.size() == 1) {
        Report(Code::kSingleRegion, path,
               absl::StrCat("service '", s.name(), "' is served only in region '", *regions.begin(),
                            "': one regional failure takes it down"));
      }
    }
    if (!zero_by_default_.empty()) {
      Report(Code::kFloorZero, "safety.default_floor",
             absl::StrCat("the default floor is 0 POPs for ", absl::StrJoin(zero_by_default_, ", "),
                          ", so health could withdraw them everywhere; set min_pops or "
                          "min_fraction, or allow_zero: true if that is wanted"));
    }
  }

  // ---- what nothing uses --------------------------------------------------------------------

  void CheckUnused() {
    for (int i = 0; i < c_.clusters_size(); ++i) {
      if (!c_.clusters(i).name().empty() && !used_clusters_.contains(c_.clusters(i).name())) {
        Report(Code::kUnusedCluster, Index("clusters", i),
               absl::StrCat("no route or listener uses cluster '", c_.clusters(i).name(), "'"));
      }
    }
    for (int i = 0; i < c_.pops_size(); ++i) {
      if (c_.pops(i).announce().empty()) {
        Report(Code::kUnusedPop, Index("pops", i),
               absl::StrCat("POP '", c_.pops(i).name(),
                            "' announces no prefix, so no client reaches it"));
      }
    }
  }

  const v1::Config& c_;
  const SourceMap& src_;
  const ValidateOptions& opts_;
  std::vector<Finding> findings_;

  NameIndex listeners_, clusters_, prefixes_, pops_;
  absl::flat_hash_set<std::string> used_clusters_;
  // Prefixes and services whose floor is zero only because the default floor is.
  std::vector<std::string> zero_by_default_;
  std::vector<std::optional<IpPrefix>> parsed_prefixes_;
};

}  // namespace

std::vector<Finding> Validate(const v1::Config& config, const SourceMap& sources,
                              const ValidateOptions& options) {
  return Validator(config, sources, options).Run();
}

LoadedConfig LoadAndValidate(const std::vector<std::string>& paths, const LoadOptions& load,
                             const ValidateOptions& validate) {
  LoadedConfig loaded = LoadConfig(paths, load);
  const bool incomplete =
      std::any_of(loaded.findings.begin(), loaded.findings.end(), [](const Finding& f) {
        switch (f.code) {
          case Code::kFileUnreadable:
          case Code::kYamlSyntax:
          case Code::kEmptyFile:
          case Code::kNotText:
          case Code::kIncludeError:
          case Code::kTooLarge:
            return true;
          default:
            return false;
        }
      });
  if (!incomplete) {
    // A value the loader rejected was left at its zero value (or absent); what the validator
    // would say about it ("port 0 is outside 1..65535") is noise. Drop validator findings
    // about a value the loader reported, or about anything inside it.
    std::vector<std::string> rejected;
    for (const Finding& f : loaded.findings) {
      if (!f.path.empty()) rejected.push_back(f.path);
    }
    auto inside = [](absl::string_view path, absl::string_view outer) {
      return absl::StartsWith(path, outer) &&
             (path.size() == outer.size() || path[outer.size()] == '.' ||
              path[outer.size()] == '[');
    };
    for (Finding& f : Validate(loaded.config, loaded.sources, validate)) {
      const bool noise = std::any_of(rejected.begin(), rejected.end(),
                                     [&](const std::string& r) { return inside(f.path, r); });
      if (!noise) loaded.findings.push_back(std::move(f));
    }
  }
  // Sort by file in load order, then position; files never loaded (unreadable) come first.
  absl::flat_hash_map<std::string, int> order;
  for (size_t i = 0; i < loaded.sources.files().size(); ++i) {
    order.try_emplace(loaded.sources.files()[i], static_cast<int>(i));
  }
  auto rank = [&](const Finding& f) {
    auto it = order.find(f.where.file);
    return std::make_tuple(it == order.end() ? -1 : it->second, f.where.line, f.where.column);
  };
  std::stable_sort(loaded.findings.begin(), loaded.findings.end(),
                   [&](const Finding& a, const Finding& b) { return rank(a) < rank(b); });
  return loaded;
}

}  // namespace holdfast::policy
