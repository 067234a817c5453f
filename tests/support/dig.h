// dig (bind9-dnsutils) and kdig (knot-dnsutils) as a test's DNS client: run against one server
// and port with the test's arguments, the header (rcode, flags, counts) and the answer section
// parsed from what they print, the output kept whole for anything else.
//
//   const Dig dig{.port = lab.dns_port(), .options = {"+norecurse"}};
//   const DigResult r = dig({"nope.example.net", "A"});
//   CHECK(r.status == "NXDOMAIN");
//   CHECK(r.HasFlag("aa"));
#ifndef HOLDFAST_TESTS_SUPPORT_DIG_H_
#define HOLDFAST_TESTS_SUPPORT_DIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace holdfast::testing {

// One record of the answer section: "www.example.net.  30  IN  A  192.0.2.10".
struct DnsRecord {
  std::string name;
  uint32_t ttl = 0;
  std::string rclass;
  std::string type;
  std::string data;  // the rest of the line, as printed
};

// What dig or kdig printed, with the first reply's header and answer section parsed (dig -f and
// kdig with several queries print several; the output has all of them).
struct DigResult {
  bool ok = false;  // it exited 0
  std::string out;  // everything it printed: with +short, one line per answer
  std::string err;
  std::string status;              // the rcode: "NOERROR", "NXDOMAIN", "REFUSED"; "" with +short
  std::vector<std::string> flags;  // the header's flags in order: "qr", "aa", "tc", "rd", ...
  int answer_count = -1;           // the header's ANSWER count; -1 with +short
  std::vector<DnsRecord> answer;   // the answer section

  bool HasFlag(const std::string& flag) const;
};

// Parses dig's or kdig's output (both formats: "status: X," and "status: X;", "flags:" and
// "Flags:").
DigResult ParseDig(const RunResult& run);

struct Dig {
  enum class Tool { kDig, kKdig };

  Tool tool = Tool::kDig;
  std::string server = "127.0.0.1";
  uint16_t port = 53;
  int timeout_s = 2;  // per try: dig +time, kdig +timeout
  int tries = 1;      // dig +tries, kdig +retry (tries - 1)
  // Given before each query's own arguments, e.g. +norecurse.
  std::vector<std::string> options = {};

  // Runs `TOOL @server -p port +time +tries OPTIONS... ARGS...` without a shell, killed after
  // 30 s.
  DigResult operator()(const std::vector<std::string>& args) const;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_SUPPORT_DIG_H_
