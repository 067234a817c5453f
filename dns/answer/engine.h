// The authoritative answer engine: a decoded query in, the response message out. Pure: no I/O,
// no clock; randomness (service-name answers) comes from the caller.
//
// What it answers (RFC 1034 section 4.3.2, without recursion: RA is never set):
//  - NOTIMP for opcodes other than QUERY; BADVERS for EDNS versions above 0 (RFC 6891
//    section 6.1.3); FORMERR for a query that is not one question or asks for an OPT;
//    REFUSED for classes other than IN, zone transfers, and names outside our zones (never an
//    open resolver);
//  - from the closest enclosing zone: the RRset asked for, CNAMEs chased through every zone we
//    own, NXDOMAIN or NODATA with the zone's SOA in authority and the negative TTL (RFC 2308
//    section 3), empty non-terminals as NODATA (RFC 8020), wildcards (RFC 4592), a referral
//    below a zone cut (AA clear, NS in authority, glue in additional; DS for the cut itself
//    is the parent's, answered NODATA), ANY with one RRset (RFC 8482 section 4.2), in-zone
//    addresses of NS and MX targets in additional;
//  - service names from the ServiceState (service_state.h): never empty while the name has
//    addresses of the family, fail_open reported in the result.
// The query's spelling of its name is kept in the question and in the answer's owner names.
//
// Thread-safe: it reads only immutable inputs.
#ifndef HOLDFAST_DNS_ANSWER_ENGINE_H_
#define HOLDFAST_DNS_ANSWER_ENGINE_H_

#include <cstdint>
#include <memory>

#include "absl/functional/function_ref.h"
#include "dns/service/service_state.h"
#include "dns/wire/message.h"
#include "dns/zone/zone_set.h"

namespace holdfast::dns {

// What the server answers from: swapped as one immutable snapshot (common/snapshot.h).
struct DnsData {
  std::shared_ptr<const ZoneSet> zones;
  // May be null: service names then answer NODATA.
  std::shared_ptr<const ServiceState> services;
};

struct AnswerOptions {
  // The UDP payload size advertised in our OPT (RFC 6891 section 6.2.5); 1232 avoids IP
  // fragmentation on common paths (DNS flag day 2020).
  uint16_t edns_udp_size = 1232;
};

struct AnswerResult {
  Message response;
  // The answer came from a floor set because no POP served (counted by the server).
  bool fail_open = false;
  // A referral to a delegated subzone.
  bool referral = false;
};

AnswerResult Answer(const DnsData& data, const Message& query, absl::FunctionRef<uint64_t()> random,
                    const AnswerOptions& options = {});

// The response to bytes that carry a header but do not decode: FORMERR with the query's ID,
// opcode and RD, no sections (RFC 1035 section 4.1.1).
Message FormErrResponse(const Header& query);

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_ANSWER_ENGINE_H_
