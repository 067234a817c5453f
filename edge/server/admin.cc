#include "edge/server/admin.h"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <exception>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "bgp/wire/notification.h"
#include "common/cat.h"
#include "common/net/await.h"
#include "common/net/spawn.h"
#include "edge/health/health_table.h"
#include "edge/http/parser.h"
#include "edge/server/access_log.h"
#include "edge/upstream/eligibility.h"
#include "spdlog/spdlog.h"

namespace holdfast::edge {
namespace {

using asio::ip::tcp;

std::string_view HealthName(HealthState s) {
  switch (s) {
    case HealthState::kUnchecked:
      return "unchecked";
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kUnhealthy:
      return "unhealthy";
  }
  return "unknown";
}

std::string Labels(std::string_view key, std::string_view value) {
  return Cat(key, "=\"", value, "\"");
}

void Metric(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  Append(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

// The dns listeners' counters (dns/server/metrics.h), summed over the workers by construction.
void WriteDnsMetrics(const EdgeConfig& config, const EdgeMetrics& m, std::string& out) {
  std::vector<size_t> dns;
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    if (config.listeners[i].protocol == v1::Listener::PROTOCOL_DNS) dns.push_back(i);
  }
  if (dns.empty()) return;
  auto read = [](const auto& c) { return c.load(std::memory_order_relaxed); };
  Metric(out, "holdfast_dns_queries_total", "DNS queries received, by transport.", "counter");
  for (const size_t i : dns) {
    const dns::ServerMetrics& d = m.listener[i].dns;
    const std::string l = Labels("listener", config.listeners[i].name);
    absl::StrAppendFormat(&out, "holdfast_dns_queries_total{%s,transport=\"udp\"} %d\n", l,
                          read(d.udp_queries));
    absl::StrAppendFormat(&out, "holdfast_dns_queries_total{%s,transport=\"tcp\"} %d\n", l,
                          read(d.tcp_queries));
  }
  Metric(out, "holdfast_dns_queries_by_type_total", "DNS queries, by query type.", "counter");
  for (const size_t i : dns) {
    const dns::ServerMetrics& d = m.listener[i].dns;
    for (size_t t = 0; t < dns::ServerMetrics::kQtypeSlots; ++t) {
      absl::StrAppendFormat(&out, "holdfast_dns_queries_by_type_total{%s,type=\"%s\"} %d\n",
                            Labels("listener", config.listeners[i].name),
                            dns::ServerMetrics::kQtypeNames[t], read(d.queries_by_qtype[t]));
    }
  }
  Metric(out, "holdfast_dns_responses_total", "DNS responses, by rcode (16: extended).", "counter");
  for (const size_t i : dns) {
    const dns::ServerMetrics& d = m.listener[i].dns;
    for (size_t r = 0; r < dns::ServerMetrics::kRcodeSlots; ++r) {
      const uint64_t n = read(d.responses_by_rcode[r]);
      if (n == 0 && r != 0 && r != 3 && r != 5) continue;  // NOERROR, NXDOMAIN, REFUSED always
      absl::StrAppendFormat(&out, "holdfast_dns_responses_total{%s,rcode=\"%d\"} %d\n",
                            Labels("listener", config.listeners[i].name), r, n);
    }
  }
  struct DnsCounter {
    const char* name;
    const char* help;
    const std::atomic<uint64_t> dns::ServerMetrics::*field;
  };
  static constexpr DnsCounter kDns[] = {
      {"holdfast_dns_truncated_total", "Answers sent truncated (TC) because they did not fit.",
       &dns::ServerMetrics::truncated},
      {"holdfast_dns_amplification_truncated_total",
       "UDP answers to clients not yet seen over TCP, cut to the amplification limit.",
       &dns::ServerMetrics::amplification_truncated},
      {"holdfast_dns_fail_open_answers_total",
       "Service-name answers from the floor set because no POP served (never empty).",
       &dns::ServerMetrics::fail_open_answers},
      {"holdfast_dns_rate_limited_dropped_total", "Answers dropped by response rate limiting.",
       &dns::ServerMetrics::rate_limited_dropped},
      {"holdfast_dns_rate_limited_slipped_total",
       "Answers sent truncated by response rate limiting (slip).",
       &dns::ServerMetrics::rate_limited_slipped},
      {"holdfast_dns_malformed_total", "Messages that did not decode.",
       &dns::ServerMetrics::malformed},
      {"holdfast_dns_tcp_connections_evicted_total",
       "Idle TCP connections closed to make room for a new one (RFC 7766 section 6.2.3).",
       &dns::ServerMetrics::tcp_connections_evicted},
  };
  for (const DnsCounter& c : kDns) {
    Metric(out, c.name, c.help, "counter");
    for (const size_t i : dns) {
      absl::StrAppendFormat(&out, "%s{%s} %d\n", c.name,
                            Labels("listener", config.listeners[i].name),
                            read(m.listener[i].dns.*c.field));
    }
  }
  Metric(out, "holdfast_dns_tcp_connections_refused_total",
         "TCP connections closed at accept: full (every slot has a query in progress) or "
         "per_client (the client holds its limit).",
         "counter");
  for (const size_t i : dns) {
    const dns::ServerMetrics& d = m.listener[i].dns;
    const std::string l = Labels("listener", config.listeners[i].name);
    absl::StrAppendFormat(&out,
                          "holdfast_dns_tcp_connections_refused_total{%s,reason=\"full\"} %d\n", l,
                          read(d.tcp_connections_refused));
    absl::StrAppendFormat(
        &out, "holdfast_dns_tcp_connections_refused_total{%s,reason=\"per_client\"} %d\n", l,
        read(d.tcp_connections_refused_per_client));
  }
  Metric(out, "holdfast_dns_query_duration_seconds", "From a query received to its answer sent.",
         "histogram");
  for (const size_t i : dns) {
    const dns::ServerMetrics& d = m.listener[i].dns;
    const std::string l = Labels("listener", config.listeners[i].name);
    uint64_t cumulative = 0;
    uint64_t count = 0;
    for (const auto& b : d.latency) count += read(b);
    for (size_t b = 0; b < dns::ServerMetrics::kLatencyBoundsUs.size(); ++b) {
      cumulative += read(d.latency[b]);
      absl::StrAppendFormat(&out, "holdfast_dns_query_duration_seconds_bucket{%s,le=\"%g\"} %d\n",
                            l, dns::ServerMetrics::kLatencyBoundsUs[b] / 1e6, cumulative);
    }
    absl::StrAppendFormat(&out, "holdfast_dns_query_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n",
                          l, count);
    absl::StrAppendFormat(&out, "holdfast_dns_query_duration_seconds_sum{%s} %.6f\n", l,
                          static_cast<double>(read(d.latency_sum_ns)) / 1e9);
    absl::StrAppendFormat(&out, "holdfast_dns_query_duration_seconds_count{%s} %d\n", l, count);
  }
}

std::string CommunityText(uint32_t c) { return Cat(c >> 16, ":", c & 0xffff); }

nlohmann::json NotificationJson(const std::optional<bgp::NotificationMessage>& n) {
  if (!n) return nullptr;
  return {{"code", bgp::ErrorCodeName(n->code)},
          {"subcode", bgp::ErrorSubcodeName(n->code, n->subcode)},
          {"code_number", n->code},
          {"subcode_number", n->subcode}};
}

// /bgp: the speaker's view of each peer, and what the node means to announce.
std::string BgpJson(const BgpAnnouncer* announcer) {
  if (announcer == nullptr) {
    return nlohmann::json{{"enabled", false}, {"peers", nlohmann::json::array()}}.dump(2) + "\n";
  }
  const BgpAnnouncer::View view = announcer->view();
  const std::vector<bgp::PeerStatus> status = announcer->Status();
  const std::vector<bfd::PeerStatus> bfd = announcer->BfdStatus();
  nlohmann::json peers = nlohmann::json::array();
  for (size_t i = 0; i < status.size(); ++i) {
    const bgp::PeerStatus& p = status[i];
    const bgp::SessionStats& st = p.stats;
    nlohmann::json peer = {
        {"address", p.address},
        {"asn", p.asn},
        {"state", bgp::StateName(p.state)},
        {"uptime_s", p.uptime ? nlohmann::json(p.uptime->count()) : nlohmann::json(nullptr)},
        {"prefixes_sent", st.prefixes_sent},
        {"prefixes_received", st.prefixes_received},
        {"prefixes_stale", st.prefixes_stale},
        {"prefixes_over_limit", st.prefixes_over_limit},
        {"updates_sent", st.updates_sent},
        {"updates_received", st.updates_received},
        {"established_transitions", st.established_transitions},
        {"notifications_sent", st.notifications_sent},
        {"notifications_received", st.notifications_received},
        {"last_error", st.last_error},
        {"last_notification_received", NotificationJson(st.last_notification_received)},
        {"last_notification_sent", NotificationJson(st.last_notification_sent)}};
    if (i < view.config->speaker.peers.size()) peer["port"] = view.config->speaker.peers[i].port;
    peer["bfd"] = nullptr;
    for (const bfd::PeerStatus& b : bfd) {
      if (b.config.peer.ToString() != p.address) continue;
      const bfd::SessionStats& bs = b.stats;
      auto ms = [](bfd::Micros d) { return static_cast<double>(d.count()) / 1000.0; };
      peer["bfd"] = {{"state", bfd::SessionStateName(bs.state)},
                     {"remote_state", bfd::SessionStateName(bs.remote_state)},
                     {"multihop", b.config.multihop},
                     {"local", b.config.local.ToString()},
                     {"local_discriminator", b.local_discriminator},
                     {"remote_discriminator", bs.remote_discriminator},
                     {"configured_interval_ms", ms(b.config.interval)},
                     {"multiplier", b.config.multiplier},
                     {"transmit_interval_ms", ms(bs.transmit_interval)},
                     {"detection_time_ms", ms(bs.detection_time)},
                     {"local_diagnostic", bfd::DiagnosticName(bs.local_diagnostic)},
                     {"remote_diagnostic", bfd::DiagnosticName(bs.remote_diagnostic)},
                     {"last_down", bfd::DiagnosticName(bs.last_down_diagnostic)},
                     {"up_transitions", bs.up_transitions},
                     {"packets_sent", bs.packets_sent},
                     {"packets_received", bs.packets_received},
                     {"packets_dropped", bs.packets_dropped}};
    }
    if (p.state == bgp::State::kEstablished) {
      peer["hold_time"] = st.negotiated_hold_time;
      peer["peer_router_id"] = Cat(st.peer_bgp_id >> 24, ".", (st.peer_bgp_id >> 16) & 0xff, ".",
                                   (st.peer_bgp_id >> 8) & 0xff, ".", st.peer_bgp_id & 0xff);
    }
    peers.push_back(std::move(peer));
  }
  nlohmann::json announced = nlohmann::json::array();
  for (const bgp::Announcement& a : view.announced) {
    nlohmann::json communities = nlohmann::json::array();
    for (const uint32_t c : a.communities) communities.push_back(CommunityText(c));
    for (const bgp::LargeCommunity& c : a.large_communities) {
      communities.push_back(Cat(c.global_admin, ":", c.local1, ":", c.local2));
    }
    nlohmann::json an = {{"prefix", a.prefix.ToString()},
                         {"next_hop", a.next_hop.ToString()},
                         {"as_path_prepend", a.as_path_prepend},
                         {"communities", communities}};
    if (a.med) an["med"] = *a.med;
    announced.push_back(std::move(an));
  }
  return nlohmann::json{{"enabled", true},
                        {"local_asn", view.config->speaker.local_asn},
                        {"router_id", view.config->speaker.router_id.ToString()},
                        {"phase", std::string(PhaseName(view.phase))},
                        {"drain_prepend", view.drain_prepend},
                        {"announced", announced},
                        {"peers", peers}}
             .dump(2) +
         "\n";
}

// Per peer: the session state (one series per state, 1 for the current one), uptime, prefixes,
// UPDATEs and flaps; the last NOTIFICATION each way as an info series.
void WriteBgpMetrics(const BgpAnnouncer& announcer, std::string& out) {
  const std::vector<bgp::PeerStatus> status = announcer.Status();
  const BgpAnnouncer::View view = announcer.view();
  auto peer_labels = [](const bgp::PeerStatus& p) {
    return Cat(Labels("peer", p.address), ",asn=\"", p.asn, "\"");
  };
  Metric(out, "holdfast_bgp_session_state",
         "BGP session state: one series per state, 1 for the peer's current state.", "gauge");
  static constexpr bgp::State kStates[] = {bgp::State::kIdle,        bgp::State::kConnect,
                                           bgp::State::kActive,      bgp::State::kOpenSent,
                                           bgp::State::kOpenConfirm, bgp::State::kEstablished};
  for (const bgp::PeerStatus& p : status) {
    for (const bgp::State s : kStates) {
      absl::StrAppendFormat(&out, "holdfast_bgp_session_state{%s,state=\"%s\"} %d\n",
                            peer_labels(p), bgp::StateName(s), p.state == s ? 1 : 0);
    }
  }
  Metric(out, "holdfast_bgp_session_uptime_seconds",
         "Seconds since the session came up; 0 unless Established.", "gauge");
  for (const bgp::PeerStatus& p : status) {
    absl::StrAppendFormat(&out, "holdfast_bgp_session_uptime_seconds{%s} %d\n", peer_labels(p),
                          p.uptime ? p.uptime->count() : 0);
  }
  struct PeerValue {
    const char* name;
    const char* help;
    const char* type;
    uint64_t (*value)(const bgp::SessionStats&);
  };
  static constexpr PeerValue kValues[] = {
      {"holdfast_bgp_prefixes_sent", "Prefixes the peer has from us (its Adj-RIB-In from us).",
       "gauge", [](const bgp::SessionStats& s) -> uint64_t { return s.prefixes_sent; }},
      {"holdfast_bgp_prefixes_received", "Prefixes we hold from the peer, stale ones included.",
       "gauge", [](const bgp::SessionStats& s) -> uint64_t { return s.prefixes_received; }},
      {"holdfast_bgp_prefixes_stale",
       "Prefixes from the peer kept stale while it restarts (RFC 4724).", "gauge",
       [](const bgp::SessionStats& s) -> uint64_t { return s.prefixes_stale; }},
      {"holdfast_bgp_prefixes_over_limit_total",
       "Prefixes from the peer not kept: its max_prefixes was reached.", "counter",
       [](const bgp::SessionStats& s) -> uint64_t { return s.prefixes_over_limit; }},
      {"holdfast_bgp_updates_sent_total", "UPDATE messages sent to the peer.", "counter",
       [](const bgp::SessionStats& s) -> uint64_t { return s.updates_sent; }},
      {"holdfast_bgp_updates_received_total", "UPDATE messages received from the peer.", "counter",
       [](const bgp::SessionStats& s) -> uint64_t { return s.updates_received; }},
      {"holdfast_bgp_notifications_sent_total", "NOTIFICATION messages sent to the peer.",
       "counter", [](const bgp::SessionStats& s) -> uint64_t { return s.notifications_sent; }},
      {"holdfast_bgp_notifications_received_total", "NOTIFICATION messages from the peer.",
       "counter", [](const bgp::SessionStats& s) -> uint64_t { return s.notifications_received; }},
      {"holdfast_bgp_session_established_total", "Times the session came up (Established).",
       "counter", [](const bgp::SessionStats& s) -> uint64_t { return s.established_transitions; }},
      {"holdfast_bgp_session_flaps_total", "Times an Established session went down.", "counter",
       [](const bgp::SessionStats& s) -> uint64_t {
         const bool up = s.state == bgp::State::kEstablished;
         return s.established_transitions - (up && s.established_transitions > 0 ? 1 : 0);
       }},
  };
  for (const PeerValue& v : kValues) {
    Metric(out, v.name, v.help, v.type);
    for (const bgp::PeerStatus& p : status) {
      absl::StrAppendFormat(&out, "%s{%s} %d\n", v.name, peer_labels(p), v.value(p.stats));
    }
  }
  Metric(out, "holdfast_bgp_last_notification_info",
         "The last NOTIFICATION sent to or received from the peer (code and subcode names).",
         "gauge");
  for (const bgp::PeerStatus& p : status) {
    for (const auto& [direction, n] : {std::pair{"received", &p.stats.last_notification_received},
                                       std::pair{"sent", &p.stats.last_notification_sent}}) {
      if (!n->has_value()) continue;
      absl::StrAppendFormat(
          &out,
          "holdfast_bgp_last_notification_info{%s,direction=\"%s\",code=\"%s\",subcode=\"%s\"} 1\n",
          peer_labels(p), direction, bgp::ErrorCodeName((*n)->code),
          bgp::ErrorSubcodeName((*n)->code, (*n)->subcode));
    }
  }
  Metric(out, "holdfast_bgp_announced_prefixes",
         "Prefixes this node means to announce now (0 once withdrawn).", "gauge");
  absl::StrAppendFormat(&out, "holdfast_bgp_announced_prefixes %d\n", view.announced.size());
  Metric(out, "holdfast_bgp_graceful_shutdown",
         "1 once the node re-announced with GRACEFUL_SHUTDOWN (65535:0) to leave.", "gauge");
  absl::StrAppendFormat(&out, "holdfast_bgp_graceful_shutdown %d\n",
                        view.phase >= BgpAnnouncer::Phase::kDraining ? 1 : 0);

  const std::vector<bfd::PeerStatus> bfd = announcer.BfdStatus();
  if (bfd.empty()) return;
  auto bfd_labels = [](const bfd::PeerStatus& p) {
    return absl::StrFormat("peer=\"%s\",local=\"%s\"", p.config.peer.ToString(),
                           p.config.local.ToString());
  };
  Metric(out, "holdfast_bfd_session_state", "1 for the BFD session's state now (RFC 5880).",
         "gauge");
  static constexpr bfd::SessionState kBfdStates[] = {
      bfd::SessionState::kAdminDown, bfd::SessionState::kDown, bfd::SessionState::kInit,
      bfd::SessionState::kUp};
  for (const bfd::PeerStatus& p : bfd) {
    for (const bfd::SessionState st : kBfdStates) {
      absl::StrAppendFormat(&out, "holdfast_bfd_session_state{%s,state=\"%s\"} %d\n", bfd_labels(p),
                            bfd::SessionStateName(st), p.stats.state == st ? 1 : 0);
    }
  }
  struct BfdValue {
    const char* name;
    const char* help;
    const char* type;
    uint64_t (*value)(const bfd::SessionStats&);
  };
  static constexpr BfdValue kBfdValues[] = {
      {"holdfast_bfd_session_up_transitions_total",
       "Times the BFD session came up: more than one is a flap.", "counter",
       [](const bfd::SessionStats& s) -> uint64_t { return s.up_transitions; }},
      {"holdfast_bfd_detection_time_seconds",
       "Time without a packet after which the peer counts as down (0 until it spoke).", "gauge",
       nullptr},
      {"holdfast_bfd_packets_sent_total", "BFD Control packets sent.", "counter",
       [](const bfd::SessionStats& s) -> uint64_t { return s.packets_sent; }},
      {"holdfast_bfd_packets_received_total", "BFD Control packets received for the session.",
       "counter", [](const bfd::SessionStats& s) -> uint64_t { return s.packets_received; }},
      {"holdfast_bfd_packets_dropped_total",
       "Packets for the session it dropped (authentication, AdminDown).", "counter",
       [](const bfd::SessionStats& s) -> uint64_t { return s.packets_dropped; }},
  };
  for (const BfdValue& v : kBfdValues) {
    Metric(out, v.name, v.help, v.type);
    for (const bfd::PeerStatus& p : bfd) {
      if (v.value == nullptr) {
        absl::StrAppendFormat(&out, "%s{%s} %.3f\n", v.name, bfd_labels(p),
                              static_cast<double>(p.stats.detection_time.count()) / 1e6);
      } else {
        absl::StrAppendFormat(&out, "%s{%s} %d\n", v.name, bfd_labels(p), v.value(p.stats));
      }
    }
  }
}

// Per listener: connections, requests, responses by class, request duration.
void WriteListenerMetrics(const EdgeConfig& config, const EdgeMetrics& m, std::string& out) {
  struct ListenerCounter {
    const char* name;
    const char* help;
    const char* type;
    const Counter ListenerMetrics::*field;
  };
  static constexpr ListenerCounter kListener[] = {
      {"holdfast_listener_connections_total", "Connections accepted.", "counter",
       &ListenerMetrics::accepted},
      {"holdfast_listener_connections_active", "Connections open now.", "gauge",
       &ListenerMetrics::active},
      {"holdfast_listener_connections_parked",
       "Idle keep-alive connections parked: open, holding no session state.", "gauge",
       &ListenerMetrics::parked},
      {"holdfast_listener_connections_refused_total",
       "Connections closed at accept: max_connections reached or draining.", "counter",
       &ListenerMetrics::refused},
      {"holdfast_http_requests_total", "HTTP requests received.", "counter",
       &ListenerMetrics::requests},
      {"holdfast_tls_handshake_failures_total", "TLS handshakes that failed or timed out.",
       "counter", &ListenerMetrics::tls_handshake_failures},
      {"holdfast_http_bad_requests_total",
       "Requests refused by the parser (malformed, ambiguous framing, limits).", "counter",
       &ListenerMetrics::bad_requests},
      {"holdfast_http_rate_limited_total",
       "Requests answered 429: their client was over the listener's client_rate_limit.", "counter",
       &ListenerMetrics::rate_limited},
  };
  for (const ListenerCounter& c : kListener) {
    Metric(out, c.name, c.help, c.type);
    for (size_t i = 0; i < config.listeners.size(); ++i) {
      absl::StrAppendFormat(&out, "%s{%s} %d\n", c.name,
                            Labels("listener", config.listeners[i].name),
                            Read(m.listener[i].*c.field));
    }
  }
  Metric(out, "holdfast_http_responses_total", "HTTP responses sent, by status class.", "counter");
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    for (int cls = 1; cls <= 5; ++cls) {
      absl::StrAppendFormat(&out, "holdfast_http_responses_total{%s,class=\"%dxx\"} %d\n",
                            Labels("listener", config.listeners[i].name), cls,
                            Read(m.listener[i].responses[cls]));
    }
  }
  Metric(out, "holdfast_http_request_duration_seconds",
         "From the request head to the end of the response.", "histogram");
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    m.listener[i].latency.Write("holdfast_http_request_duration_seconds",
                                Labels("listener", config.listeners[i].name), out);
  }
}

// Per cluster: what its gate (edge/overload) admits and refuses, and the adaptive limit's view.
void WriteGateMetrics(const Serving& serving, std::string& out) {
  const EdgeConfig& config = *serving.config;
  std::vector<GateStatus> status;
  const SteadyTime now = std::chrono::steady_clock::now();
  for (const ClusterGate* gate : serving.cluster_gates) status.push_back(gate->Status(now));
  Metric(out, "holdfast_shed_total",
         "Requests and connections refused before a backend, by reason: concurrency_limit (the "
         "adaptive limit), max_requests, max_connections (the circuit breakers), max_pending "
         "(the queue full), pending_timeout (waited, or would have, too long).",
         "counter");
  for (size_t i = 0; i < status.size(); ++i) {
    for (size_t r = 0; r < kShedReasons; ++r) {
      absl::StrAppendFormat(&out, "holdfast_shed_total{%s,reason=\"%s\"} %d\n",
                            Labels("cluster", config.clusters[i].name),
                            ShedReasonName(static_cast<ShedReason>(r)), status[i].refused[r]);
    }
  }
  struct GateValue {
    const char* name;
    const char* help;
    double (*value)(const GateStatus&);
  };
  static constexpr GateValue kGate[] = {
      {"holdfast_concurrency_limit",
       "Requests the cluster's gate lets through at once now (max_requests when not adaptive).",
       [](const GateStatus& s) { return static_cast<double>(s.limit); }},
      {"holdfast_concurrency_in_flight",
       "Requests the cluster's gate has let through and not seen "
       "answered.",
       [](const GateStatus& s) { return static_cast<double>(s.in_flight); }},
      {"holdfast_concurrency_pending",
       "Requests waiting for a place in the cluster's queue (circuit_breakers.pending_timeout).",
       [](const GateStatus& s) { return static_cast<double>(s.pending); }},
      {"holdfast_concurrency_min_rtt_seconds",
       "The backends' latency without queueing, as last measured (0 until measured).",
       [](const GateStatus& s) { return std::chrono::duration<double>(s.min_rtt).count(); }},
      {"holdfast_concurrency_sample_rtt_seconds",
       "The backends' median latency over the last update interval.",
       [](const GateStatus& s) { return std::chrono::duration<double>(s.sample_rtt).count(); }},
      {"holdfast_concurrency_measuring",
       "1 while the gate measures min RTT (its limit is min_limit meanwhile).",
       [](const GateStatus& s) { return s.measuring ? 1.0 : 0.0; }},
  };
  for (const GateValue& v : kGate) {
    Metric(out, v.name, v.help, "gauge");
    for (size_t i = 0; i < status.size(); ++i) {
      absl::StrAppendFormat(&out, "%s{%s} %g\n", v.name, Labels("cluster", config.clusters[i].name),
                            v.value(status[i]));
    }
  }
}

// Per cluster: the proxy's counters of requests, connections, failures and shedding.
void WriteClusterMetrics(const Serving& serving, std::string& out) {
  const EdgeConfig& config = *serving.config;
  struct ClusterCounter {
    const char* name;
    const char* help;
    const char* type;
    const Counter ClusterMetrics::*field;
  };
  static constexpr ClusterCounter kCluster[] = {
      {"holdfast_upstream_requests_total", "Requests sent to the cluster's endpoints.", "counter",
       &ClusterMetrics::upstream_requests},
      {"holdfast_upstream_requests_active", "Requests in flight to the cluster.", "gauge",
       &ClusterMetrics::active_requests},
      {"holdfast_upstream_connections_active", "Open connections to the cluster, idle included.",
       "gauge", &ClusterMetrics::active_connections},
      {"holdfast_upstream_connect_failures_total", "Connections to an endpoint that failed.",
       "counter", &ClusterMetrics::connect_failures},
      {"holdfast_upstream_retries_total", "Attempts after the first, to another endpoint.",
       "counter", &ClusterMetrics::retries},
      {"holdfast_upstream_timeouts_total", "Requests the backend did not answer in time.",
       "counter", &ClusterMetrics::timeouts},
      {"holdfast_upstream_protocol_errors_total",
       "Backend connections closed for bytes after a complete response or while idle.", "counter",
       &ClusterMetrics::protocol_errors},
      {"holdfast_no_endpoint_total", "Requests with no eligible endpoint to go to.", "counter",
       &ClusterMetrics::no_endpoint},
      {"holdfast_panic_picks_total",
       "Picks made in panic mode (too few healthy endpoints: balancing over all).", "counter",
       &ClusterMetrics::panic_picks},
  };
  for (const ClusterCounter& c : kCluster) {
    Metric(out, c.name, c.help, c.type);
    for (size_t i = 0; i < config.clusters.size(); ++i) {
      absl::StrAppendFormat(&out, "%s{%s} %d\n", c.name, Labels("cluster", config.clusters[i].name),
                            Read(serving.cluster_metrics[i]->*c.field));
    }
  }
  WriteGateMetrics(serving, out);
}

// Per cluster: endpoints by health, panic mode, checks and ejections, from the table the
// balancers use.
void WriteHealthMetrics(const EdgeConfig& config, const HealthTable& health, std::string& out) {
  Metric(out, "holdfast_endpoints", "Endpoints by health (ejected ones counted apart too).",
         "gauge");
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    const Eligibility e = EligibilityOf(config.clusters[i], health.clusters[i].endpoints);
    const EligibilityCounts& n = e.counts();
    const std::string cluster = Labels("cluster", config.clusters[i].name);
    absl::StrAppendFormat(&out, "holdfast_endpoints{%s,state=\"healthy\"} %d\n", cluster,
                          n.healthy);
    absl::StrAppendFormat(&out, "holdfast_endpoints{%s,state=\"unhealthy\"} %d\n", cluster,
                          n.unhealthy);
    absl::StrAppendFormat(&out, "holdfast_endpoints{%s,state=\"unchecked\"} %d\n", cluster,
                          n.unchecked);
    absl::StrAppendFormat(&out, "holdfast_endpoints{%s,state=\"ejected\"} %d\n", cluster,
                          n.ejected);
  }
  Metric(out, "holdfast_cluster_panic",
         "1 while a cluster balances over all endpoints: too few are healthy.", "gauge");
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    const Eligibility e = EligibilityOf(config.clusters[i], health.clusters[i].endpoints);
    absl::StrAppendFormat(&out, "holdfast_cluster_panic{%s} %d\n",
                          Labels("cluster", config.clusters[i].name), e.panic() ? 1 : 0);
  }
  Metric(out, "holdfast_cluster_failing_over",
         "1 while a cluster sends beyond its preferred endpoints (its own POP's): too few of "
         "them are healthy.",
         "gauge");
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    const Eligibility e = EligibilityOf(config.clusters[i], health.clusters[i].endpoints);
    absl::StrAppendFormat(&out, "holdfast_cluster_failing_over{%s} %d\n",
                          Labels("cluster", config.clusters[i].name), e.failing_over() ? 1 : 0);
  }
  struct HealthCounter {
    const char* name;
    const char* help;
    uint64_t ClusterHealth::*field;
  };
  static constexpr HealthCounter kHealth[] = {
      {"holdfast_health_checks_total", "Active health checks run.", &ClusterHealth::checks},
      {"holdfast_health_check_failures_total", "Active health checks that failed.",
       &ClusterHealth::check_failures},
      {"holdfast_ejections_total", "Endpoints ejected by outlier detection.",
       &ClusterHealth::ejections},
      {"holdfast_ejections_capped_total", "Ejections max_ejection_percent prevented.",
       &ClusterHealth::ejections_capped},
  };
  for (const HealthCounter& c : kHealth) {
    Metric(out, c.name, c.help, "counter");
    for (size_t i = 0; i < config.clusters.size(); ++i) {
      absl::StrAppendFormat(&out, "%s{%s} %d\n", c.name, Labels("cluster", config.clusters[i].name),
                            health.clusters[i].*c.field);
    }
  }
}

}  // namespace

absl::StatusOr<tcp::endpoint> ParseHostPort(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(Cat("'", text, "' is not HOST:PORT"));
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(Cat("'", text, "': bad port"));
  }
  asio::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(Cat("'", text, "': bad IP address"));
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Listen(const std::string& address) {
  auto endpoint = ParseHostPort(address);
  if (!endpoint.ok()) return endpoint.status();
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  asio::error_code ec;
  acceptor_->open(endpoint->protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(*endpoint, ec);
  if (!ec) acceptor_->listen(64, ec);
  if (ec) {
    return absl::UnavailableError(Cat("admin: cannot listen on ", address, ": ", ec.message()));
  }
  port_ = acceptor_->local_endpoint(ec).port();
  return absl::OkStatus();
}

void AdminServer::Start() {
  asio::co_spawn(io_, AcceptLoop(),
                 LogFailure("admin.accept_loop_failed", spdlog::level::critical));
  thread_ = std::thread([this] { io_.run(); });
}

void AdminServer::Stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

asio::awaitable<void> AdminServer::AcceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(kAwait);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      asio::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(kAwait);
      continue;
    }
    asio::co_spawn(io_, Serve(std::move(socket)), LogFailure("admin.session_failed"));
  }
}

asio::awaitable<void> AdminServer::Serve(tcp::socket socket) {
  // One request per connection: the admin endpoint is for scrapers and operators, not load.
  asio::steady_timer timeout(io_, std::chrono::seconds(5));
  timeout.async_wait([&socket](const asio::error_code& ec) {
    if (!ec) socket.close();
  });
  std::string in;
  http::RequestParser parser;
  http::RequestHead head;
  for (;;) {
    const size_t old = in.size();
    in.resize(old + 4096);
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(in.data() + old, 4096), kAwait);
    in.resize(old + n);
    if (ec) co_return;
    const http::ParseResult r = parser.Parse(in, head);
    if (r.status == http::ParseStatus::kIncomplete) continue;
    int status = 400;
    std::string content_type = "text/plain";
    std::string body;
    if (r.status == http::ParseStatus::kComplete) {
      std::string_view path = head.target;
      path = path.substr(0, path.find('?'));
      body = head.method == "GET" || head.method == "HEAD" ? Respond(path, status, content_type)
                                                           : (status = 405, "method not allowed\n");
    } else {
      body = Cat(r.error, "\n");
    }
    const std::string response =
        Cat("HTTP/1.1 ", status, status == 200 ? " OK" : " Error",
            "\r\nContent-Type: ", content_type, "\r\nContent-Length: ", body.size(),
            "\r\nConnection: close\r\n\r\n", head.method == "HEAD" ? "" : body);
    co_await asio::async_write(socket, asio::buffer(response), kAwait);
    timeout.cancel();
    co_return;
  }
}

std::string AdminServer::Respond(std::string_view path, int& status,
                                 std::string& content_type) const {
  status = 200;
  const std::shared_ptr<const Serving> serving = shared_.serving.Current();
  const std::shared_ptr<const EdgeConfig>& config = serving->config;
  if (path == "/healthz") return "ok\n";
  if (path == "/ready") {
    if (shared_.draining.load()) {
      status = 503;
      return "draining\n";
    }
    if (const size_t wedged = WedgedWorkers(); wedged > 0) {
      status = 503;
      return Cat(wedged, " worker loop(s) stuck for more than ", Watchdog::kWedgedAfter.count(),
                 " ms\n");
    }
    return "ready\n";
  }
  if (path == "/metrics") {
    content_type = "text/plain; version=0.0.4";
    return Metrics();
  }
  if (path == "/config") {
    content_type = "application/json";
    return nlohmann::json{
               {"node", config->node}, {"pop", config->pop}, {"version", config->version}}
               .dump() +
           "\n";
  }
  if (path == "/clusters") {
    content_type = "application/json";
    const std::shared_ptr<const HealthTable> health = shared_.health.Current();
    const bool same_config = health != nullptr && health->config_version == config->version &&
                             health->clusters.size() == config->clusters.size();
    nlohmann::json clusters = nlohmann::json::array();
    for (size_t ci = 0; ci < config->clusters.size(); ++ci) {
      const ClusterConfig& c = config->clusters[ci];
      const ClusterHealth* h = same_config ? &health->clusters[ci] : nullptr;
      nlohmann::json endpoints = nlohmann::json::array();
      for (size_t i = 0; i < c.endpoints.size(); ++i) {
        nlohmann::json e = {{"address", c.endpoints[i].key},
                            {"weight", c.endpoints[i].weight},
                            {"priority", c.endpoints[i].priority}};
        if (h != nullptr && i < h->endpoints.size()) {
          e["health"] = HealthName(h->endpoints[i].state);
          e["ejected"] = h->endpoints[i].ejected;
          const EndpointHealthReport& r = h->reports[i];
          if (!r.last_check_error.empty()) e["last_check_error"] = r.last_check_error;
          e["check_failures"] = r.check_failures;
          e["ejections"] = r.ejections;
        }
        endpoints.push_back(std::move(e));
      }
      nlohmann::json cluster = {{"name", c.name},
                                {"lb_policy", std::string(LbPolicyName(c.lb->policy()))},
                                {"active_checks", c.health_check.has_value()},
                                {"endpoints", endpoints}};
      if (h != nullptr) {
        const Eligibility e = EligibilityOf(c, h->endpoints);
        cluster["panic"] = e.panic();
        cluster["failing_over"] = e.failing_over();
        cluster["eligible"] = e.size();
      }
      clusters.push_back(std::move(cluster));
    }
    return nlohmann::json{{"clusters", clusters}}.dump(2) + "\n";
  }
  if (path == "/bgp") {
    content_type = "application/json";
    return BgpJson(bgp_);
  }
  status = 404;
  return "not found: try /healthz /ready /metrics /clusters /config /bgp\n";
}

size_t AdminServer::WedgedWorkers() const {
  return shared_.watchdog == nullptr ? 0 : shared_.watchdog->Wedged(Watchdog::Clock::now());
}

std::string AdminServer::Metrics() const {
  const std::shared_ptr<const Serving> serving = shared_.serving.Current();
  const std::shared_ptr<const EdgeConfig>& config = serving->config;
  const EdgeMetrics& m = *shared_.metrics;
  std::string out;

  Metric(out, "holdfast_config_info", "The config in use (version label).", "gauge");
  absl::StrAppendFormat(&out, "holdfast_config_info{node=\"%s\",pop=\"%s\",version=\"%s\"} 1\n",
                        config->node, config->pop, config->version);
  Metric(out, "holdfast_draining", "1 while the edge drains.", "gauge");
  absl::StrAppendFormat(&out, "holdfast_draining %d\n", shared_.draining.load() ? 1 : 0);

  WriteListenerMetrics(*config, m, out);

  Metric(out, "holdfast_access_log_dropped_total",
         "Access log lines dropped because the writer fell behind.", "counter");
  absl::StrAppendFormat(&out, "holdfast_access_log_dropped_total %d\n", AccessLog::Dropped());

  WriteDnsMetrics(*config, m, out);

  WriteClusterMetrics(*serving, out);
  const std::shared_ptr<const HealthTable> health = shared_.health.Current();
  if (health != nullptr && health->config_version == config->version &&
      health->clusters.size() == config->clusters.size()) {
    WriteHealthMetrics(*config, *health, out);
  }
  if (bgp_ != nullptr) WriteBgpMetrics(*bgp_, out);
  Metric(out, "holdfast_workers_wedged",
         "Worker loops that have not run for 2 s (stuck): the node reports its listeners down.",
         "gauge");
  absl::StrAppendFormat(&out, "holdfast_workers_wedged %d\n", WedgedWorkers());
  Metric(out, "holdfast_bgp_self_withdrawn",
         "1 while the node withdraws every prefix itself because it cannot serve (a worker loop "
         "wedged), whatever the plan says.",
         "gauge");
  absl::StrAppendFormat(&out, "holdfast_bgp_self_withdrawn %d\n",
                        shared_.self_withdrawn.load() ? 1 : 0);
  Metric(out, "holdfast_connections_open", "Client connections being served.", "gauge");
  absl::StrAppendFormat(&out, "holdfast_connections_open %d\n", shared_.open_connections.load());
  return out;
}

}  // namespace holdfast::edge
