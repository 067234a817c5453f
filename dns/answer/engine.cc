#include "dns/answer/engine.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dns/wire/name.h"

namespace holdfast::dns {
namespace {

// CNAMEs followed for one query: enough for any sane chain, and the end of every loop.
constexpr int kMaxChain = 8;
// RFC 1995 (IXFR): refused like AXFR, we do not transfer zones.
constexpr uint16_t kTypeIxfr = 251;

void AddRrset(std::vector<ResourceRecord>& section, std::string_view owner, const RRset& set) {
  for (const std::string& rdata : set.rdatas) {
    section.push_back(ResourceRecord{std::string(owner), set.type, kClassIn, set.ttl, rdata});
  }
}

// The SOA in authority of a negative answer, with the negative TTL (RFC 2308 section 3).
void AddNegativeSoa(const Zone& zone, Message& r) {
  r.authority.push_back(
      ResourceRecord{zone.apex, kTypeSoa, kClassIn, zone.negative_ttl, zone.soa_rdata});
}

// The topmost zone cut between the apex (exclusive) and `lower` (inclusive unless
// `below_only`), or nullptr.
const ZoneNode* FindCut(const Zone& zone, std::string_view lower, bool below_only) {
  // Suffixes of the name below the apex, longest first; searched shortest first, so the cut
  // nearest the apex wins (names below it belong to the child zone).
  std::string_view suffixes[kMaxNameLength / 2 + 1];
  size_t n = 0;
  for (std::string_view s = lower; s.size() > zone.apex.size(); s = ParentName(s)) {
    suffixes[n++] = s;
  }
  for (size_t i = n; i-- > (below_only ? 1 : 0);) {
    const ZoneNode* node = zone.Find(suffixes[i]);
    if (node != nullptr && node->delegation) return node;
  }
  return nullptr;
}

// RFC 4592 section 3.3.1: the wildcard at the closest encloser, when the name does not exist.
const ZoneNode* FindWildcard(const Zone& zone, std::string_view lower) {
  std::string_view encloser = ParentName(lower);
  while (encloser.size() > zone.apex.size() && zone.Find(encloser) == nullptr) {
    encloser = ParentName(encloser);
  }
  std::string source = "\1*";
  source.append(encloser);
  return zone.Find(source);
}

// Addresses of `target` from the zone data we own, into the additional section, once.
void AddAddresses(const ZoneSet& zones, const Zone* in, std::string_view target, Message& r,
                  std::vector<std::string>& added) {
  const std::string lower = LowerName(target);
  for (const std::string& a : added) {
    if (a == lower) return;
  }
  const Zone* zone = in != nullptr ? in : zones.FindZone(lower);
  if (zone == nullptr) return;
  const ZoneNode* node = zone->Find(lower);
  if (node == nullptr) return;
  added.push_back(lower);
  for (uint16_t type : {kTypeA, kTypeAaaa}) {
    if (const RRset* set = node->Find(type)) AddRrset(r.additional, node->name, *set);
  }
}

// The name inside an NS or MX RDATA.
std::string_view TargetOf(uint16_t type, std::string_view rdata) {
  return type == kTypeMx ? rdata.substr(2) : rdata;
}

void AddAdditional(const ZoneSet& zones, const RRset& set, Message& r,
                   std::vector<std::string>& added) {
  if (set.type != kTypeNs && set.type != kTypeMx) return;
  for (const std::string& rdata : set.rdatas) {
    AddAddresses(zones, nullptr, TargetOf(set.type, rdata), r, added);
  }
}

// Fills a response whose question is in `zone`; the header and question are set already.
// `lower` is the question's name lowered (the caller found the zone with it).
void Resolve(const DnsData& data, const Zone* zone, const Question& q, std::string lower,
             absl::FunctionRef<uint64_t()> random, AnswerResult& result) {
  Message& r = result.response;
  const ZoneSet& zones = *data.zones;
  std::vector<std::string> added;
  // The query's spelling, kept in owner names, then each CNAME's target (in the zone data,
  // which outlives the call).
  std::string_view name = q.name;
  r.header.aa = true;
  for (int hop = 0; hop <= kMaxChain; ++hop) {
    // RFC 4035 section 3.1.4.1: DS lives on the parent side of a cut, so a DS query for the
    // cut itself is answered here (NODATA: we sign nothing), not referred.
    if (const ZoneNode* cut = FindCut(*zone, lower, q.type == kTypeDs)) {
      // RFC 1034 section 4.3.2 step 3b: a referral. Not authoritative for the child's data;
      // AA stays set only for the CNAMEs already in the answer.
      if (r.answers.empty()) r.header.aa = false;
      result.referral = true;
      const RRset* ns = cut->Find(kTypeNs);
      AddRrset(r.authority, cut->name, *ns);
      // Glue: addresses of the name servers from our data, below the cut or not.
      for (const std::string& target : ns->rdatas) AddAddresses(zones, zone, target, r, added);
      return;
    }
    const ZoneNode* node = zone->Find(lower);
    if (node == nullptr) node = FindWildcard(*zone, lower);
    if (node == nullptr) {
      // RFC 6604 section 3: after a CNAME chain the rcode is the last name's.
      r.set_rcode(kRcodeNxDomain);
      AddNegativeSoa(*zone, r);
      return;
    }
    const bool wants_address = q.type == kTypeA || q.type == kTypeAaaa || q.type == kTypeAny;
    if (node->service && wants_address) {
      const ServiceAnswers* service =
          data.services != nullptr ? data.services->Find(node->name) : nullptr;
      if (service != nullptr) {
        // RFC 8482: ANY gets the IPv4 addresses alone.
        const bool v6 = q.type == kTypeAaaa;
        ServiceSelection pick =
            SelectAddresses(*service, v6 ? net::Family::kV6 : net::Family::kV4, random);
        for (const net::IpAddress& ip : pick.addresses) {
          r.answers.push_back(ResourceRecord{std::string(name), v6 ? kTypeAaaa : kTypeA, kClassIn,
                                             service->ttl,
                                             v6 ? AaaaRdata(ip.bytes()) : ARdata(ip.bytes())});
        }
        result.fail_open = pick.fail_open;
        if (!pick.addresses.empty()) return;
      }
      AddNegativeSoa(*zone, r);
      return;
    }
    const RRset* set = nullptr;
    if (q.type == kTypeAny) {
      // RFC 8482 section 4.2: one RRset of the name is a complete answer to ANY.
      if (!node->rrsets.empty()) set = &node->rrsets.front();
    } else {
      set = node->Find(q.type);
    }
    if (set != nullptr) {
      AddRrset(r.answers, name, *set);
      AddAdditional(zones, *set, r, added);
      return;
    }
    const RRset* cname = node->Find(kTypeCname);
    if (cname == nullptr || q.type == kTypeCname) {
      AddNegativeSoa(*zone, r);  // NODATA (RFC 2308 section 2.2)
      return;
    }
    AddRrset(r.answers, name, *cname);
    // Chase the target through every zone we own; outside them the resolver follows it.
    name = cname->rdatas.front();
    lower = LowerName(name);
    zone = zones.FindZone(lower);
    if (zone == nullptr) return;
  }
}

}  // namespace

AnswerResult Answer(const DnsData& data, const Message& query, absl::FunctionRef<uint64_t()> random,
                    const AnswerOptions& options) {
  AnswerResult result;
  Message& r = result.response;
  r.header.id = query.header.id;
  r.header.qr = true;
  r.header.opcode = query.header.opcode;
  r.header.rd = query.header.rd;
  r.header.cd = query.header.cd;
  if (query.edns.has_value()) {
    // RFC 6891 section 7: a responder that understood the OPT includes one. RFC 3225 section
    // 3: the DO bit is copied.
    Edns e;
    e.udp_size = options.edns_udp_size;
    e.dnssec_ok = query.edns->dnssec_ok;
    r.edns = e;
  }
  if (query.questions.size() == 1) r.questions = query.questions;
  if (query.header.opcode != kOpcodeQuery) {
    r.set_rcode(kRcodeNotImp);
    return result;
  }
  if (query.edns.has_value() && query.edns->version > 0) {
    r.set_rcode(kRcodeBadVers);
    return result;
  }
  // RFC 1035 section 4.1.2 allows several questions, but no server answers them (RFC 9619).
  if (query.questions.size() != 1 || query.header.qr) {
    r.questions.clear();
    r.set_rcode(kRcodeFormErr);
    return result;
  }
  const Question& q = query.questions.front();
  if (q.type == kTypeOpt) {
    // RFC 6891 section 6.1.1: OPT is a pseudo-RR, never asked for.
    r.set_rcode(kRcodeFormErr);
    return result;
  }
  if (q.qclass != kClassIn || q.type == kTypeAxfr || q.type == kTypeIxfr || data.zones == nullptr) {
    r.set_rcode(kRcodeRefused);
    return result;
  }
  std::string lower = LowerName(q.name);
  const Zone* zone = data.zones->FindZone(lower);
  if (zone == nullptr) {
    // Not ours: refuse rather than recurse or refer to the root (an open resolver or a
    // reflector otherwise).
    r.set_rcode(kRcodeRefused);
    return result;
  }
  Resolve(data, zone, q, std::move(lower), random, result);
  return result;
}

Message FormErrResponse(const Header& query) {
  Message r;
  r.header.id = query.id;
  r.header.qr = true;
  r.header.opcode = query.opcode;
  r.header.rd = query.rd;
  r.set_rcode(kRcodeFormErr);
  return r;
}

}  // namespace holdfast::dns
