#include "bgp/session/session.h"

#include <catch2/catch.hpp>
#include <chrono>
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
