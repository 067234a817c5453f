// Fuzzes the DNS message decoder and, through it, the answer engine and the response encoder.
//
// Beyond "no crash, no hang, no leak", it checks what the server relies on:
//  - a message that decodes, encoded again, decodes to the same message (names, case, RDATA,
//    OPT), and encoding fails only when the compressed form would pass 65535 octets;
//  - bytes that do not decode but carry a header get a FORMERR that encodes and decodes;
//  - the engine's response to a decoded message is well-formed: it encodes within the UDP
//    limit (512 and the client's EDNS size), decodes, keeps the query's ID and question, has
//    TC set whenever records were dropped from the answer or authority, and keeps the OPT;
//  - a service-name answer is never empty for A.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <span>

#include "dns/answer/engine.h"
#include "dns/wire/message.h"
#include "dns/wire/name.h"
#include "edge/config/dns_config.h"
#include "tests/unit/dns/test_config.h"

namespace holdfast::dns {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "dns_fuzz: broken invariant: " << what << "\n";
    std::abort();
  }
}

std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const DnsData& Data() {
  static const DnsData* data = [] {
    const v1::Config config = testing::TestConfig();
    auto* d = new DnsData;
    d->zones = *edge::CompileZones(config.dns());
    auto services = edge::ServiceStateFromConfig(config);
    // Every POP down: the engine must fail open.
    std::vector<ServiceAnswers> down = (*services)->services();
    for (ServiceAnswers& s : down) {
      for (ServiceCandidate& c : s.candidates) c.serving = false;
    }
    d->services = *ServiceState::Create(std::move(down));
    return d;
  }();
  return *data;
}

void CheckResponse(const Message& query, size_t limit) {
  std::mt19937_64 rng(query.header.id);
  const AnswerResult result = Answer(Data(), query, [&rng] { return rng(); });
  ByteWriter w;
  bool truncated = false;
  Check(EncodeResponse(result.response, limit, w, &truncated).ok(), "response does not encode");
  Check(w.size() <= std::max<size_t>(limit, kMinUdpSize), "response over the limit");
  absl::StatusOr<Message> back = DecodeMessage(Span(w.data()));
  Check(back.ok(), "response does not decode");
  Check(back->header.id == query.header.id, "response ID differs");
  Check(back->header.qr, "response without QR");
  Check(!back->header.ra, "response offers recursion");
  Check(back->header.tc == truncated, "TC does not match truncation");
  Check(back->questions == result.response.questions, "question not echoed");
  Check(back->edns.has_value() == result.response.edns.has_value(), "OPT lost");
  Check(back->rcode() == result.response.rcode(), "rcode changed in encoding");
  if (!truncated) {
    Check(back->answers == result.response.answers, "answers changed without TC");
    Check(back->authority == result.response.authority, "authority changed without TC");
  }
  if (result.response.questions.size() == 1 && result.response.rcode() == kRcodeNoError) {
    const Question& q = result.response.questions[0];
    if (q.type == kTypeA && NameEquals(q.name, *NameFromText("www.example.net"))) {
      Check(!result.response.answers.empty() && result.fail_open,
            "service name answered empty or not fail-open with every POP down");
    }
  }
}

}  // namespace
}  // namespace holdfast::dns

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace holdfast::dns;
  using holdfast::ByteWriter;
  const std::span<const uint8_t> in(data, size);
  absl::StatusOr<Message> m = DecodeMessage(in);
  if (!m.ok()) {
    Check(!m.status().message().empty(), "refusal without a reason");
    if (std::optional<Header> h = DecodeHeader(in)) {
      ByteWriter w;
      Check(EncodeMessage(FormErrResponse(*h), w).ok(), "FORMERR does not encode");
      absl::StatusOr<Message> back = DecodeMessage(Span(w.data()));
      Check(back.ok() && back->rcode() == kRcodeFormErr && back->header.id == h->id,
            "FORMERR does not decode");
    }
    return 0;
  }
  ByteWriter w;
  const absl::Status encoded = EncodeMessage(*m, w);
  if (!encoded.ok()) {
    Check(encoded.message() == "message over 65535 octets", "a decoded message does not encode");
  } else {
    absl::StatusOr<Message> again = DecodeMessage(Span(w.data()));
    Check(again.ok(), "re-encoded message does not decode");
    Check(*again == *m, "re-encoded message decodes differently");
  }
  CheckResponse(*m, kMinUdpSize);
  if (m->edns.has_value()) CheckResponse(*m, m->edns->udp_size);
  return 0;
}
