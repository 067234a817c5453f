// The server as a program sees it: c-ares, the resolver library the edge itself uses, as the
// client; answers parsed with c-ares's own parsers.
#include <ares.h>
#include <arpa/inet.h>
#include <sys/select.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>

#include "tests/integration/dns/test_data.h"
#include "tests/integration/dns/test_server.h"

namespace holdfast::dns::testing {
namespace {

ServerOptions Options() {
  ServerOptions o;
  o.rate_limit.responses_per_second = 0;
  o.trusted_prefixes.push_back(*net::IpPrefix::Parse("127.0.0.0/8"));
  return o;
}

// A c-ares channel aimed at one server; Query() runs one query to completion.
class Resolver {
 public:
  struct Reply {
    int status = -1;
    std::string answer;
  };

  // `flags`: ARES_FLAG_*; ARES_FLAG_NOCHECKRESP hands REFUSED answers to the callback instead
  // of trying other servers.
  explicit Resolver(uint16_t port, int flags = 0) {
    static const int init = ares_library_init(ARES_LIB_INIT_ALL);
    REQUIRE(init == ARES_SUCCESS);
    ares_options options{};
    options.timeout = 2000;
    options.tries = 2;
    options.flags = flags;
    REQUIRE(ares_init_options(&channel_, &options,
                              ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS) ==
            ARES_SUCCESS);
    const std::string servers = "127.0.0.1:" + std::to_string(port);
    REQUIRE(ares_set_servers_ports_csv(channel_, servers.c_str()) == ARES_SUCCESS);
  }
  ~Resolver() { ares_destroy(channel_); }
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  Reply Query(const std::string& name, int type) {
    Reply reply;
    ares_query(
        channel_, name.c_str(), 1 /* IN */, type,
        [](void* arg, int status, int, unsigned char* abuf, int alen) {
          auto* r = static_cast<Reply*>(arg);
          r->status = status;
          if (abuf != nullptr) r->answer.assign(reinterpret_cast<char*>(abuf), alen);
        },
        &reply);
    // Bounded: c-ares gives up after tries x timeout (4 s); the loop allows twice that.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    while (reply.status == -1 && std::chrono::steady_clock::now() < deadline) {
      fd_set read_fds;
      fd_set write_fds;
      FD_ZERO(&read_fds);
      FD_ZERO(&write_fds);
      const int nfds = ares_fds(channel_, &read_fds, &write_fds);
      if (nfds == 0) break;
      timeval tv{};
      timeval* wait = ares_timeout(channel_, nullptr, &tv);
      select(nfds, &read_fds, &write_fds, nullptr, wait);
      ares_process(channel_, &read_fds, &write_fds);
    }
    return reply;
  }

 private:
  ares_channel channel_ = nullptr;
};

const unsigned char* Bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
int Size(const std::string& s) { return static_cast<int>(s.size()); }

std::string Text(const in_addr& a) {
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, buf, sizeof buf);
}
std::string Text(const ares_in6_addr& a) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, &a, buf, sizeof buf);
}

std::vector<std::string> ParseA(const std::string& answer, std::vector<int>* ttls = nullptr) {
  ares_addrttl addrs[16];
  int n = 16;
  REQUIRE(ares_parse_a_reply(Bytes(answer), Size(answer), nullptr, addrs, &n) == ARES_SUCCESS);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(Text(addrs[i].ipaddr));
    if (ttls != nullptr) ttls->push_back(addrs[i].ttl);
  }
  return out;
}

TEST_CASE("c-ares parses every record type", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  Resolver resolver(server.port());

  std::vector<int> ttls;
  Resolver::Reply a = resolver.Query("mail.example.net", 1);
  REQUIRE(a.status == ARES_SUCCESS);
  CHECK(ParseA(a.answer, &ttls) == std::vector<std::string>{"192.0.2.25", "192.0.2.26"});
  CHECK(ttls == std::vector<int>{3600, 3600});

  Resolver::Reply aaaa = resolver.Query("ns2.example.net", 28);
  REQUIRE(aaaa.status == ARES_SUCCESS);
  ares_addr6ttl addrs6[4];
  int n6 = 4;
  REQUIRE(ares_parse_aaaa_reply(Bytes(aaaa.answer), Size(aaaa.answer), nullptr, addrs6, &n6) ==
          ARES_SUCCESS);
  REQUIRE(n6 == 1);
  CHECK(Text(addrs6[0].ip6addr) == "2001:db8::53");

  Resolver::Reply mx = resolver.Query("example.net", 15);
  REQUIRE(mx.status == ARES_SUCCESS);
  ares_mx_reply* mxs = nullptr;
  REQUIRE(ares_parse_mx_reply(Bytes(mx.answer), Size(mx.answer), &mxs) == ARES_SUCCESS);
  REQUIRE(mxs != nullptr);
  CHECK(std::string(mxs->host) == "mail.example.net");
  CHECK(mxs->priority == 10);
  CHECK(mxs->next == nullptr);
  ares_free_data(mxs);

  Resolver::Reply txt = resolver.Query("example.net", 16);
  REQUIRE(txt.status == ARES_SUCCESS);
  ares_txt_reply* txts = nullptr;
  REQUIRE(ares_parse_txt_reply(Bytes(txt.answer), Size(txt.answer), &txts) == ARES_SUCCESS);
  REQUIRE(txts != nullptr);
  CHECK(std::string(reinterpret_cast<char*>(txts->txt), txts->length) == "v=spf1 mx -all");
  ares_free_data(txts);

  Resolver::Reply ns = resolver.Query("example.net", 2);
  REQUIRE(ns.status == ARES_SUCCESS);
  hostent* host = nullptr;
  REQUIRE(ares_parse_ns_reply(Bytes(ns.answer), Size(ns.answer), &host) == ARES_SUCCESS);
  std::vector<std::string> servers;
  for (char** alias = host->h_aliases; *alias != nullptr; ++alias) servers.emplace_back(*alias);
  ares_free_hostent(host);
  CHECK(servers == std::vector<std::string>{"ns1.example.net", "ns2.example.net"});

  Resolver::Reply soa = resolver.Query("example.net", 6);
  REQUIRE(soa.status == ARES_SUCCESS);
  ares_soa_reply* s = nullptr;
  REQUIRE(ares_parse_soa_reply(Bytes(soa.answer), Size(soa.answer), &s) == ARES_SUCCESS);
  CHECK(std::string(s->nsname) == "ns1.example.net");
  CHECK(std::string(s->hostmaster) == "hostmaster.example.net");
  CHECK(s->serial == 7);
  CHECK(s->minttl == 300);
  ares_free_data(s);

  // A CNAME chased to a service name: c-ares reports the alias and the target's addresses.
  Resolver::Reply cname = resolver.Query("docs.example.net", 1);
  REQUIRE(cname.status == ARES_SUCCESS);
  host = nullptr;
  REQUIRE(ares_parse_a_reply(Bytes(cname.answer), Size(cname.answer), &host, nullptr, nullptr) ==
          ARES_SUCCESS);
  CHECK(std::string(host->h_name) == "www.example.net");
  REQUIRE(host->h_aliases[0] != nullptr);
  CHECK(std::string(host->h_aliases[0]) == "docs.example.net");
  ares_free_hostent(host);
}

TEST_CASE("c-ares sees NXDOMAIN, NODATA and REFUSED", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  Resolver resolver(server.port());
  CHECK(resolver.Query("nope.example.net", 1).status == ARES_ENOTFOUND);
  CHECK(resolver.Query("mail.example.net", 28).status == ARES_ENODATA);
  Resolver strict(server.port(), ARES_FLAG_NOCHECKRESP);
  CHECK(strict.Query("www.example.com", 1).status == ARES_EREFUSED);
}

TEST_CASE("c-ares retries a truncated answer over TCP and gets it whole", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  Resolver resolver(server.port());
  Resolver::Reply big = resolver.Query("big.example.net", 16);
  REQUIRE(big.status == ARES_SUCCESS);
  ares_txt_reply* txts = nullptr;
  REQUIRE(ares_parse_txt_reply(Bytes(big.answer), Size(big.answer), &txts) == ARES_SUCCESS);
  int count = 0;
  for (ares_txt_reply* t = txts; t != nullptr; t = t->next) ++count;
  ares_free_data(txts);
  CHECK(count == 30);
  CHECK(server.metrics().truncated.load() >= 1);
  CHECK(server.metrics().tcp_queries.load() >= 1);
}

TEST_CASE("service answers follow the POP weights over many queries", "[dns][integration]") {
  TestServer server(Options(), IntegrationData(false, /*max_records=*/1));
  Resolver resolver(server.port());
  std::map<std::string, int> counts;
  constexpr int kQueries = 3000;
  for (int i = 0; i < kQueries; ++i) {
    Resolver::Reply r = resolver.Query("www.example.net", 1);
    REQUIRE(r.status == ARES_SUCCESS);
    std::vector<int> ttls;
    const std::vector<std::string> a = ParseA(r.answer, &ttls);
    REQUIRE(a.size() == 1);
    REQUIRE(ttls[0] == 30);
    ++counts[a[0]];
  }
  // Weights ams 100, fra 300, iad 600: expected 300, 900, 1800. Bounds of six standard
  // deviations: a correct choice fails them less than once in a million runs; a uniform or
  // first-only choice cannot pass.
  INFO(counts["192.0.2.10"] << " " << counts["192.0.2.20"] << " " << counts["192.0.2.30"]);
  CHECK(counts.size() == 3);
  CHECK(std::abs(counts["192.0.2.10"] - 300) < 100);
  CHECK(std::abs(counts["192.0.2.20"] - 900) < 150);
  CHECK(std::abs(counts["192.0.2.30"] - 1800) < 165);
  CHECK(server.metrics().fail_open_answers.load() == 0);
}

TEST_CASE("c-ares never gets an empty service answer with every POP down", "[dns][integration]") {
  TestServer server(Options(), IntegrationData(/*all_pops_down=*/true));
  Resolver resolver(server.port());
  for (int i = 0; i < 20; ++i) {
    Resolver::Reply r = resolver.Query("www.example.net", 1);
    REQUIRE(r.status == ARES_SUCCESS);
    CHECK(ParseA(r.answer).size() == 2);
  }
  CHECK(server.metrics().fail_open_answers.load() == 20);
}

}  // namespace
}  // namespace holdfast::dns::testing
