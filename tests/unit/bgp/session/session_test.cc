#include "bgp/session/session.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace holdfast::bgp {
namespace {

using std::chrono::seconds;

Prefix P(const char* text) { return *Prefix::Parse(text); }
net::IpAddress A(const char* text) { return *net::IpAddress::Parse(text); }

SessionConfig Config(uint32_t local_asn, uint32_t id, uint32_t peer_asn, uint16_t hold) {
  SessionConfig c;
  c.local_asn = local_asn;
  c.router_id = id;
  c.peer_asn = peer_asn;
  c.hold_time = hold;
  c.connect_retry = seconds(5);
  return c;
}

bool Has(const std::vector<Action>& actions, Action::Kind kind) {
  for (const Action& a : actions) {
    if (a.kind == kind) return true;
  }
  return false;
}

// Two sessions joined by an imaginary wire: what one sends, the other reads. The clock is
// whatever the test says it is.
struct Pair {
  Session a;
  Session b;
  TimePoint now{};
  bool wire_up = false;
  std::vector<Action> log_a, log_b;

  Pair(SessionConfig ca, SessionConfig cb) : a(std::move(ca)), b(std::move(cb)) {}

  // Queues the sends of `actions` (from `from`) for the other side, then delivers everything
  // queued in order, as TCP would, until quiet.
  void Deliver(Session& from, std::vector<Action> actions) {
    Queue(from, std::move(actions));
    while (!wire_.empty()) {
      auto [to, bytes] = std::move(wire_.front());
      wire_.erase(wire_.begin());
      if (to == nullptr) {
        wire_up = false;  // a close, after what was sent before it
      } else if (wire_up) {
        Queue(*to, to->OnBytes(now, bytes));
      }
    }
  }
  void Queue(Session& from, std::vector<Action> actions) {
    Session* to = &from == &a ? &b : &a;
    auto& log = &from == &a ? log_a : log_b;
    for (Action& act : actions) {
      log.push_back(act);
      if (act.kind == Action::Kind::kSend && wire_up) wire_.emplace_back(to, act.bytes);
      if (act.kind == Action::Kind::kClose) wire_.emplace_back(nullptr, std::vector<uint8_t>{});
    }
  }
  void Connect() {
    Deliver(a, a.Start(now));
    Deliver(b, b.Start(now));
    wire_up = true;
    std::vector<Action> from_a = a.OnConnected(now, true);
    std::vector<Action> from_b = b.OnConnected(now, false);
    Queue(a, std::move(from_a));
    Deliver(b, std::move(from_b));
  }
  std::vector<std::pair<Session*, std::vector<uint8_t>>> wire_;
  void Advance(seconds s) {
    now += s;
    Deliver(a, a.OnTimer(now));
    Deliver(b, b.OnTimer(now));
  }
};

Announcement Ann(const char* prefix, const char* nh) {
  Announcement a;
  a.prefix = P(prefix);
  a.next_hop = A(nh);
  return a;
}

TEST_CASE("two sessions reach Established and negotiate the smaller hold time", "[bgp][session]") {
  Pair p(Config(4200000000u, 1, 64512, 90), Config(64512, 2, 4200000000u, 30));
  p.Connect();
  CHECK(p.a.state() == State::kEstablished);
  CHECK(p.b.state() == State::kEstablished);
  CHECK(p.a.stats().negotiated_hold_time == 30);
  CHECK(p.b.stats().negotiated_hold_time == 30);
  CHECK(p.a.stats().four_octet_as);
  CHECK(p.a.stats().peer_bgp_id == 2);
  CHECK(p.b.stats().peer_graceful_restart);
  CHECK(Has(p.log_a, Action::Kind::kEstablished));
}

TEST_CASE("announcements reach the peer and only changes go on the wire", "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65001, 2, 64512, 90));
  Announcement v4 = Ann("198.51.100.0/24", "192.0.2.1");
  v4.as_path_prepend = 2;
  v4.communities = {Community(64512, 7)};
  v4.large_communities = {{64512, 1, 2}};
  v4.med = 10;
  Announcement v6 = Ann("2001:db8:1::/48", "2001:db8::1");
  v6.ipv6_link_local = A("fe80::1");
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {v4, v6}));
  p.Connect();
  REQUIRE(p.b.adj_rib_in().size() == 2);
  const PathAttributes& got = *p.b.adj_rib_in().at(v4.prefix).attributes;
  CHECK(got.as_path ==
        std::vector<AsPathSegment>{{AsPathSegment::kAsSequence, {64512, 64512, 64512}}});
  CHECK(got.next_hop == A("192.0.2.1"));
  CHECK(got.med == 10u);
  CHECK(got.communities == std::vector<uint32_t>{Community(64512, 7)});
  CHECK(got.large_communities == std::vector<LargeCommunity>{{64512, 1, 2}});
  CHECK_FALSE(got.local_pref);  // eBGP
  CHECK(p.b.adj_rib_in().at(v6.prefix).attributes->ipv6_next_hop == A("2001:db8::1"));
  CHECK(p.b.adj_rib_in().at(v6.prefix).attributes->ipv6_link_local == A("fe80::1"));
  CHECK(p.a.stats().prefixes_sent == 2);

  // The same set again sends nothing.
  std::vector<Action> same = p.a.SetAnnouncements(p.now, {v4, v6});
  CHECK_FALSE(Has(same, Action::Kind::kSend));
  // One attribute change sends one UPDATE; dropping a prefix withdraws it.
  v4.communities.push_back(kGracefulShutdownCommunity);
  std::vector<Action> changed = p.a.SetAnnouncements(p.now, {v4});
  size_t sends = 0;
  for (const Action& a : changed) sends += a.kind == Action::Kind::kSend ? 1 : 0;
  CHECK(sends == 2);  // the IPv6 withdrawal and the IPv4 change
  p.Deliver(p.a, std::move(changed));
  CHECK(p.b.adj_rib_in().size() == 1);
  CHECK(p.b.adj_rib_in().at(v4.prefix).attributes->communities.back() ==
        kGracefulShutdownCommunity);
}

TEST_CASE("an announcement with a next hop of the other family is refused", "[bgp][session]") {
  Session s(Config(64512, 1, 65001, 90));
  std::vector<Action> out = s.SetAnnouncements(
      {}, {Ann("2001:db8:1::/48", "192.0.2.1"), Ann("198.51.100.0/24", "192.0.2.1")});
  CHECK(Has(out, Action::Kind::kUpdateError));
}

TEST_CASE("internal peers get LOCAL_PREF and no own ASN in the path", "[bgp][session]") {
  Pair p(Config(64512, 1, 64512, 90), Config(64512, 2, 64512, 90));
  Announcement v4 = Ann("198.51.100.0/24", "192.0.2.1");
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {v4}));
  p.Connect();
  const PathAttributes& got = *p.b.adj_rib_in().at(v4.prefix).attributes;
  CHECK(got.local_pref == 100u);
  CHECK(got.as_path == std::vector<AsPathSegment>{});
}

TEST_CASE("keepalives go out at a third of the hold time", "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 9), Config(65001, 2, 64512, 9));
  p.Connect();
  std::vector<Action> t = p.a.OnTimer(p.now + seconds(3));
  CHECK(Has(t, Action::Kind::kSend));
  CHECK(p.a.state() == State::kEstablished);
}

TEST_CASE("hold time 0 on either side means no keepalives and no hold timer", "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 0), Config(65001, 2, 64512, 90));
  p.Connect();
  REQUIRE(p.a.state() == State::kEstablished);
  CHECK(p.b.stats().negotiated_hold_time == 0);
  CHECK_FALSE(p.a.NextDeadline());
  CHECK_FALSE(p.b.NextDeadline());
}

TEST_CASE("a silent peer trips the hold timer", "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 9), Config(65001, 2, 64512, 9));
  p.Connect();
  p.wire_up = false;  // b's keepalives get lost
  std::vector<Action> t = p.a.OnTimer(p.now + seconds(9));
  CHECK(Has(t, Action::Kind::kDown));
  CHECK(p.a.state() == State::kActive);
  REQUIRE(p.a.stats().last_notification_sent);
  CHECK(p.a.stats().last_notification_sent->code == kHoldTimerExpired);
  // The connect retry timer brings it back to Connect.
  CHECK(Has(p.a.OnTimer(p.now + seconds(9) + seconds(5)), Action::Kind::kConnect));
  CHECK(p.a.state() == State::kConnect);
}

TEST_CASE("wrong peer ASN is refused with Bad Peer AS", "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65002, 2, 64512, 90));
  p.Connect();
  CHECK(p.a.state() == State::kActive);
  REQUIRE(p.a.stats().last_notification_sent);
  CHECK(p.a.stats().last_notification_sent->subcode == kBadPeerAs);
  // b was told why.
  REQUIRE(p.b.stats().last_notification_received);
  CHECK(p.b.stats().last_notification_received->code == kOpenMessageError);
  CHECK(p.b.stats().last_error.find("code=open_message_error subcode=bad_peer_as") !=
        std::string::npos);
}

TEST_CASE("NOTIFICATIONs sent and received are counted", "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65001, 2, 64512, 90));
  p.Connect();
  REQUIRE(p.a.state() == State::kEstablished);
  CHECK(p.a.stats().notifications_sent == 0);
  CHECK(p.b.stats().notifications_received == 0);
  p.Deliver(p.a, p.a.Stop(p.now));
  CHECK(p.a.stats().notifications_sent == 1);
  CHECK(p.a.stats().notifications_received == 0);
  CHECK(p.b.stats().notifications_received == 1);
  CHECK(p.b.stats().notifications_sent == 0);
  // Again: the counters add up over connections.
  p.Connect();
  REQUIRE(p.b.state() == State::kEstablished);
  p.Deliver(p.b, p.b.Stop(p.now));
  CHECK(p.a.stats().notifications_received == 1);
  CHECK(p.a.stats().notifications_sent == 1);
  CHECK(p.b.stats().notifications_sent == 1);
  CHECK(p.b.stats().notifications_received == 1);
}

std::vector<Announcement> V4Set(int from, int to, const char* next_hop) {
  std::vector<Announcement> out;
  for (int i = from; i < to; ++i) {
    const std::string prefix =
        "10." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) + ".0/24";
    out.push_back(Ann(prefix.c_str(), next_hop));
  }
  return out;
}

size_t Sends(const std::vector<Action>& actions) {
  return static_cast<size_t>(std::count_if(actions.begin(), actions.end(), [](const Action& a) {
    return a.kind == Action::Kind::kSend;
  }));
}

TEST_CASE("a large set goes out packed and later sets send only their differences",
          "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65001, 2, 64512, 90));
  p.Connect();
  REQUIRE(p.a.state() == State::kEstablished);
  // 5,000 prefixes with one attribute set, in no particular order: 4 octets each in UPDATEs of
  // at most 4096 octets, so 5 or 6 messages, not 5,000.
  std::vector<Announcement> all = V4Set(0, 5000, "192.0.2.1");
  std::shuffle(all.begin(), all.end(), std::mt19937(7));
  std::vector<Action> first = p.a.SetAnnouncements(p.now, all);
  CHECK(Sends(first) <= 6);
  for (const Action& a : first) {
    if (a.kind == Action::Kind::kSend) CHECK(a.bytes.size() <= 4096);
  }
  p.Deliver(p.a, std::move(first));
  CHECK(p.b.adj_rib_in().size() == 5000);
  CHECK(p.a.stats().prefixes_sent == 5000);
  const Session::RibOut& out = p.a.adj_rib_out();
  CHECK(std::is_sorted(out.begin(), out.end(),
                       [](const auto& x, const auto& y) { return x.first < y.first; }));

  // 1,000 withdrawn and 500 with another next hop: one withdrawal UPDATE and one announcement.
  std::vector<Announcement> next = V4Set(0, 3500, "192.0.2.1");
  for (Announcement& a : V4Set(3500, 4000, "192.0.2.2")) next.push_back(a);
  std::vector<Action> diff = p.a.SetAnnouncements(p.now, next);
  CHECK(Sends(diff) == 2);
  p.Deliver(p.a, std::move(diff));
  REQUIRE(p.b.adj_rib_in().size() == 4000);
  CHECK(p.b.adj_rib_in().at(P("10.15.159.0/24")).attributes->next_hop == A("192.0.2.2"));
  CHECK(p.b.adj_rib_in().at(P("10.0.0.0/24")).attributes->next_hop == A("192.0.2.1"));
  CHECK_FALSE(p.b.adj_rib_in().contains(P("10.15.160.0/24")));
  // Unchanged: nothing at all.
  CHECK(Sends(p.a.SetAnnouncements(p.now, next)) == 0);
}

TEST_CASE("of two announcements of one prefix the later counts", "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65001, 2, 64512, 90));
  p.Connect();
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {Ann("198.51.100.0/24", "192.0.2.1"),
                                              Ann("203.0.113.0/24", "192.0.2.1"),
                                              Ann("198.51.100.0/24", "192.0.2.9")}));
  REQUIRE(p.b.adj_rib_in().size() == 2);
  CHECK(p.b.adj_rib_in().at(P("198.51.100.0/24")).attributes->next_hop == A("192.0.2.9"));
  CHECK(p.a.stats().prefixes_sent == 2);
}

TEST_CASE("more prefixes than the limit end the session with Cease and an idle hold",
          "[bgp][session][max_prefixes]") {
  SessionConfig cb = Config(65001, 2, 64512, 90);
  cb.max_prefixes = 3;
  cb.max_prefixes_idle_hold = seconds(60);
  Pair p(Config(64512, 1, 65001, 90), cb);
  p.Connect();
  REQUIRE(p.b.state() == State::kEstablished);

  // At the limit: fine.
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, V4Set(0, 3, "192.0.2.1")));
  CHECK(p.b.state() == State::kEstablished);
  CHECK(p.b.adj_rib_in().size() == 3);

  // One more (an IPv6 one): b ends the session, as RFC 4486 says, and forgets a's routes.
  std::vector<Announcement> four = V4Set(0, 3, "192.0.2.1");
  four.push_back(Ann("2001:db8:1::/48", "2001:db8::1"));
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, four));
  CHECK(p.b.state() == State::kIdle);
  CHECK(p.b.adj_rib_in().empty());
  CHECK(p.b.stats().prefixes_received == 0);
  CHECK(p.b.stats().notifications_sent == 1);
  CHECK(p.b.stats().last_error.find("max_prefixes_reached") == 0);
  // Data: AFI 2 (IPv6), SAFI 1, then the limit, 3, in 4 octets.
  const NotificationMessage want{kCease, kMaxPrefixesReached, {0, 2, 1, 0, 0, 0, 3}};
  REQUIRE(p.b.stats().last_notification_sent);
  CHECK(*p.b.stats().last_notification_sent == want);
  REQUIRE(p.a.stats().last_notification_received);
  CHECK(*p.a.stats().last_notification_received == want);
  CHECK(p.a.stats().notifications_received == 1);

  // No reconnect before the idle hold ends (the connect retry time, 5 s, is not enough)...
  std::vector<Action> early = p.b.OnTimer(p.now + seconds(59));
  CHECK_FALSE(Has(early, Action::Kind::kConnect));
  CHECK(p.b.state() == State::kIdle);
  // ...a connection from the peer meanwhile is not taken...
  CHECK(p.b.OnConnected(p.now + seconds(30), false).empty());
  CHECK(p.b.state() == State::kIdle);
  // ...and once it ends, the session starts again.
  CHECK(Has(p.b.OnTimer(p.now + seconds(60)), Action::Kind::kConnect));
  CHECK(p.b.state() == State::kConnect);
}

TEST_CASE("without teardown, prefixes past the limit are not kept and the session stays up",
          "[bgp][session][max_prefixes]") {
  SessionConfig cb = Config(65001, 2, 64512, 90);
  cb.max_prefixes = 3;
  cb.max_prefixes_teardown = false;
  Pair p(Config(64512, 1, 65001, 90), cb);
  p.Connect();
  REQUIRE(p.b.state() == State::kEstablished);
  // b's own announcements must not suffer from what a sends.
  p.Deliver(p.b, p.b.SetAnnouncements(p.now, {Ann("198.51.100.0/24", "192.0.2.2")}));
  REQUIRE(p.a.adj_rib_in().size() == 1);

  p.log_b.clear();
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, V4Set(0, 5, "192.0.2.1")));
  CHECK(p.b.state() == State::kEstablished);
  CHECK(p.b.adj_rib_in().size() == 3);
  CHECK(p.b.stats().prefixes_over_limit == 2);
  CHECK(p.b.stats().notifications_sent == 0);
  CHECK(p.a.adj_rib_in().size() == 1);
  // Reported once per connection, not once per prefix.
  size_t reports = 0;
  for (const Action& a : p.log_b) {
    if (a.kind == Action::Kind::kUpdateError &&
        a.reason.find("max_prefixes_reached") != std::string::npos) {
      ++reports;
    }
  }
  CHECK(reports == 1);
  // A withdrawal makes room for the next new prefix. (Those not kept before stay unknown
  // until the peer sends them again: a route refresh asks for that.)
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, V4Set(1, 6, "192.0.2.1")));
  CHECK(p.b.adj_rib_in().size() == 3);
  CHECK(p.b.adj_rib_in().contains(P("10.0.5.0/24")));
  CHECK_FALSE(p.b.adj_rib_in().contains(P("10.0.0.0/24")));
  CHECK(p.b.state() == State::kEstablished);
}

TEST_CASE("max prefixes 0 means no limit", "[bgp][session][max_prefixes]") {
  SessionConfig cb = Config(65001, 2, 64512, 90);
  cb.max_prefixes = 0;
  Pair p(Config(64512, 1, 65001, 90), cb);
  p.Connect();
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, V4Set(0, 2000, "192.0.2.1")));
  CHECK(p.b.state() == State::kEstablished);
  CHECK(p.b.adj_rib_in().size() == 2000);
}

TEST_CASE("stop sends Cease administrative shutdown and the peer drops our routes",
          "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65001, 2, 64512, 90));
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {Ann("198.51.100.0/24", "192.0.2.1")}));
  p.Connect();
  REQUIRE(p.b.adj_rib_in().size() == 1);
  p.Deliver(p.a, p.a.Stop(p.now));
  CHECK(p.a.state() == State::kIdle);
  CHECK(p.b.adj_rib_in().empty());
  REQUIRE(p.b.stats().last_notification_received);
  CHECK(*p.b.stats().last_notification_received ==
        NotificationMessage{kCease, kAdministrativeShutdown, {}});
  // Stopped means stopped: no reconnect.
  CHECK_FALSE(Has(p.a.OnTimer(p.now + seconds(60)), Action::Kind::kConnect));
}

TEST_CASE("graceful restart helper keeps stale routes for the restart time", "[bgp][session]") {
  SessionConfig ca = Config(64512, 1, 65001, 90);
  ca.graceful_restart.restart_time = 30;
  Pair p(ca, Config(65001, 2, 64512, 90));
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {Ann("198.51.100.0/24", "192.0.2.1"),
                                              Ann("2001:db8:1::/48", "2001:db8::1")}));
  p.Connect();
  REQUIRE(p.b.adj_rib_in().size() == 2);

  // a vanishes without a NOTIFICATION.
  p.wire_up = false;
  p.Deliver(p.b, p.b.OnConnectionLost(p.now, "reset by peer"));
  CHECK(p.b.adj_rib_in().size() == 2);
  CHECK(p.b.stats().prefixes_stale == 2);

  SECTION("flushed when the restart time passes") {
    p.Deliver(p.b, p.b.OnTimer(p.now + seconds(30)));
    CHECK(p.b.adj_rib_in().empty());
  }
  SECTION("refreshed by the restarted peer, stale ones go at End-of-RIB") {
    SessionConfig again = ca;
    again.graceful_restart.restarting = true;
    p.a = Session(again);
    p.Deliver(p.a, p.a.SetAnnouncements(p.now, {Ann("198.51.100.0/24", "192.0.2.1")}));
    p.Connect();
    CHECK(p.b.state() == State::kEstablished);
    CHECK(p.b.adj_rib_in().size() == 1);
    CHECK(p.b.stats().prefixes_stale == 0);
    CHECK_FALSE(p.b.adj_rib_in().begin()->second.stale);
  }
}

TEST_CASE("only the first OPEN after a restart sets the R bit", "[bgp][session]") {
  SessionConfig ca = Config(64512, 1, 65001, 90);
  ca.graceful_restart.restarting = true;
  Pair p(ca, Config(65001, 2, 64512, 90));
  // The R bit of every OPEN a sent, in order.
  auto r_bits = [&] {
    std::vector<bool> out;
    for (const Action& act : p.log_a) {
      if (act.kind != Action::Kind::kSend) continue;
      absl::StatusOr<DecodedMessage> m = DecodeMessage(act.bytes, {});
      if (!m.ok() || !std::holds_alternative<OpenMessage>(m->message)) continue;
      const auto& gr = std::get<OpenMessage>(m->message).capabilities.graceful_restart;
      out.push_back(gr.has_value() && gr->restarting);
    }
    return out;
  };
  p.Connect();
  REQUIRE(p.a.state() == State::kEstablished);
  // The connection drops; the next one is no restart of the process.
  p.wire_up = false;
  p.Deliver(p.a, p.a.OnConnectionLost(p.now, "reset by peer"));
  p.Deliver(p.b, p.b.OnConnectionLost(p.now, "reset by peer"));
  p.wire_up = true;
  std::vector<Action> from_a = p.a.OnConnected(p.now, true);
  std::vector<Action> from_b = p.b.OnConnected(p.now, false);
  p.Queue(p.a, std::move(from_a));
  p.Deliver(p.b, std::move(from_b));
  CHECK(p.a.state() == State::kEstablished);
  CHECK(r_bits() == std::vector<bool>{true, false});
}

TEST_CASE("without graceful restart the peer's routes go with the connection", "[bgp][session]") {
  SessionConfig ca = Config(64512, 1, 65001, 90);
  ca.graceful_restart.enabled = false;
  Pair p(ca, Config(65001, 2, 64512, 90));
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {Ann("198.51.100.0/24", "192.0.2.1")}));
  p.Connect();
  REQUIRE(p.b.adj_rib_in().size() == 1);
  p.wire_up = false;
  p.Deliver(p.b, p.b.OnConnectionLost(p.now, "reset by peer"));
  CHECK(p.b.adj_rib_in().empty());
}

TEST_CASE("route refresh sends the family's routes again", "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65001, 2, 64512, 90));
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {Ann("198.51.100.0/24", "192.0.2.1")}));
  p.Connect();
  std::vector<uint8_t> rr = *EncodeMessage(RouteRefreshMessage{kIpv4Unicast, 0}, {});
  CHECK(Has(p.a.OnBytes(p.now, rr), Action::Kind::kSend));
}

TEST_CASE("malformed updates from the peer follow RFC 7606", "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65001, 2, 64512, 90));
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {Ann("198.51.100.0/24", "192.0.2.1")}));
  p.Connect();
  REQUIRE(p.b.adj_rib_in().size() == 1);
  // Same prefix, ORIGIN 5: treat-as-withdraw keeps the session and drops the route.
  const std::vector<uint8_t> body = {0,    0, 0, 14,  0x40, 1, 1, 5,  0x40, 2,  0,
                                     0x40, 3, 4, 192, 0,    2, 1, 24, 198,  51, 100};
  std::vector<Action> t = p.b.OnBytes(p.now, Frame(kTypeUpdate, body));
  CHECK(Has(t, Action::Kind::kUpdateError));
  CHECK(p.b.state() == State::kEstablished);
  CHECK(p.b.adj_rib_in().empty());
  // A bad marker ends the session with a NOTIFICATION.
  std::vector<uint8_t> junk(19, 0);
  t = p.b.OnBytes(p.now, junk);
  CHECK(Has(t, Action::Kind::kDown));
  CHECK(p.b.stats().last_notification_sent->code == kMessageHeaderError);
}

TEST_CASE("a withdrawal in an MP_UNREACH_NLRI that overruns its field resets the session",
          "[bgp][session]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65001, 2, 64512, 90));
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {Ann("2001:db8:100::/48", "2001:db8::1")}));
  p.Connect();
  REQUIRE(p.b.adj_rib_in().contains(P("2001:db8:100::/48")));
  // MP_UNREACH_NLRI withdrawing 2001:db8:100::/48: 10 octets, its length says 15.
  const std::vector<uint8_t> body = {0, 0,  0,    13,   0x80, 15,   15,   0,   2,
                                     1, 48, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00};
  std::vector<Action> t = p.b.OnBytes(p.now, Frame(kTypeUpdate, body));
  // RFC 7606 section 3(j): session reset, UPDATE Message Error / Optional Attribute Error
  // (RFC 4760 section 7); the NOTIFICATION ends graceful restart, so nothing is kept stale.
  CHECK(Has(t, Action::Kind::kDown));
  REQUIRE(p.b.stats().last_notification_sent);
  CHECK(p.b.stats().last_notification_sent->code == kUpdateMessageError);
  CHECK(p.b.stats().last_notification_sent->subcode == kOptionalAttributeError);
  CHECK(p.b.state() != State::kEstablished);
  CHECK(p.b.adj_rib_in().empty());
}

TEST_CASE("an update with AS 0 in its AS_PATH withdraws the route and keeps the session",
          "[bgp][session][rfc7607]") {
  Pair p(Config(64512, 1, 65001, 90), Config(65001, 2, 64512, 90));
  p.Deliver(p.a, p.a.SetAnnouncements(p.now, {Ann("198.51.100.0/24", "192.0.2.1")}));
  p.Connect();
  REQUIRE(p.b.adj_rib_in().size() == 1);
  // The same prefix again with AS_PATH 64512 0: RFC 7607 section 2, treat-as-withdraw.
  const std::vector<uint8_t> body = {0, 0, 0,   24, 0x40, 1, 1,  0,   0x40, 2,  10,
                                     2, 2, 0,   0,  0xfc, 0, 0,  0,   0,    0,  0x40,
                                     3, 4, 192, 0,  2,    1, 24, 198, 51,   100};
  std::vector<Action> t = p.b.OnBytes(p.now, Frame(kTypeUpdate, body));
  CHECK(Has(t, Action::Kind::kUpdateError));
  CHECK_FALSE(Has(t, Action::Kind::kDown));
  CHECK(p.b.state() == State::kEstablished);
  CHECK(p.b.adj_rib_in().empty());
}

TEST_CASE("collision keeps the connection of the higher identifier", "[bgp][session]") {
  CHECK(KeepLocallyInitiated(0x0a000002, 0x0a000001));
  CHECK_FALSE(KeepLocallyInitiated(0x0a000001, 0x0a000002));

  // a opened one connection, b another; a has the lower identifier, so b's stays.
  SessionConfig ca = Config(64512, 1, 65001, 90);
  Session a(ca);
  TimePoint now{};
  a.Start(now);
  a.OnConnected(now, true);  // a's own connection, OPEN sent
  SessionConfig passive = ca;
  passive.passive = true;
  Session candidate(passive);
  candidate.Start(now);
  candidate.OnConnected(now, false);
  OpenMessage open;
  open.my_as = 65001;
  open.hold_time = 90;
  open.bgp_id = 2;
  open.capabilities.four_octet_as = 65001;
  candidate.OnBytes(now, *EncodeMessage(open, {}));
  REQUIRE(candidate.state() == State::kOpenConfirm);
  REQUIRE_FALSE(KeepLocallyInitiated(ca.router_id, candidate.remote_bgp_id()));
  std::vector<Action> dropped = a.DropForCollision(now);
  CHECK(Has(dropped, Action::Kind::kClose));
  a.AdoptConnection(now, std::move(candidate));
  CHECK(a.state() == State::kOpenConfirm);
  CHECK_FALSE(a.initiated_locally());
  CHECK(Has(a.OnBytes(now, *EncodeMessage(KeepaliveMessage{}, {})), Action::Kind::kEstablished));
}

}  // namespace
}  // namespace holdfast::bgp
