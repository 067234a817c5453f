// DNS messages (RFC 1035 section 4) and their codec, with EDNS0 (RFC 6891).
//
// DecodeMessage() reads a whole message from a span and refuses malformed ones with a reason
// (InvalidArgument): truncated sections, bad names (see name.h), RDATA that does not fit its
// type, more than one OPT or an OPT outside the additional section or not owned by the root
// (RFC 6891 section 6.1.1), trailing bytes. Names inside the RDATA of NS, CNAME, SOA and MX are
// decompressed, so a ResourceRecord's rdata is always self-contained wire form; other types'
// RDATA is kept as it came (opaque, RFC 3597).
//
// EncodeMessage() writes a message with name compression; EncodeResponse() also fits it into
// a size limit by dropping whole RRsets and setting TC (RFC 2181 section 9), keeping the OPT.
// Pure functions, thread-safe.
#ifndef HOLDFAST_DNS_WIRE_MESSAGE_H_
#define HOLDFAST_DNS_WIRE_MESSAGE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/bytes/byte_writer.h"

namespace holdfast::dns {

// RR types (RFC 1035 section 3.2.2, RFC 3596, RFC 6891, RFC 8482).
enum RrType : uint16_t {
  kTypeA = 1,
  kTypeNs = 2,
  kTypeCname = 5,
  kTypeSoa = 6,
  kTypeMx = 15,
  kTypeTxt = 16,
  kTypeAaaa = 28,
  kTypeOpt = 41,
  kTypeDs = 43,
  kTypeAxfr = 252,
  kTypeAny = 255,
};

inline constexpr uint16_t kClassIn = 1;

enum Opcode : uint8_t { kOpcodeQuery = 0 };

// Response codes; values above 15 need EDNS (the upper 8 bits go in the OPT's TTL).
enum Rcode : uint16_t {
  kRcodeNoError = 0,
  kRcodeFormErr = 1,
  kRcodeServFail = 2,
  kRcodeNxDomain = 3,
  kRcodeNotImp = 4,
  kRcodeRefused = 5,
  kRcodeBadVers = 16,
};

inline constexpr size_t kHeaderSize = 12;
// RFC 1035 section 4.2.1: UDP without EDNS.
inline constexpr size_t kMinUdpSize = 512;

struct Header {
  uint16_t id = 0;
  bool qr = false;
  uint8_t opcode = 0;
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  bool ad = false;
  bool cd = false;
  // The low 4 bits of the rcode; the message's full rcode is in Message::rcode().
  uint8_t rcode = 0;

  friend bool operator==(const Header&, const Header&) = default;
};

struct Question {
  std::string name;  // wire form, case as received
  uint16_t type = 0;
  uint16_t qclass = kClassIn;

  friend bool operator==(const Question&, const Question&) = default;
};

struct ResourceRecord {
  std::string name;  // wire form
  uint16_t type = 0;
  uint16_t rclass = kClassIn;
  uint32_t ttl = 0;
  // Uncompressed wire RDATA (see the file comment).
  std::string rdata;

  friend bool operator==(const ResourceRecord&, const ResourceRecord&) = default;
};

// The OPT pseudo-record (RFC 6891 section 6.1.2), decoded.
struct Edns {
  uint16_t udp_size = kMinUdpSize;
  // Upper 8 bits of the 12-bit rcode.
  uint8_t extended_rcode = 0;
  uint8_t version = 0;
  bool dnssec_ok = false;
  // The remaining flag bits (Z), kept so a message round-trips.
  uint16_t z = 0;
  // The options, as wire {code, length, data} triples, each checked to fit.
  std::string options;

  friend bool operator==(const Edns&, const Edns&) = default;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authority;
  // Without the OPT record, which is in `edns`.
  std::vector<ResourceRecord> additional;
  std::optional<Edns> edns;

  // The 12-bit rcode, from the header and the OPT.
  uint16_t rcode() const;
  // Sets the header's and, above 15, the OPT's part (creating no OPT: the caller decides).
  void set_rcode(uint16_t rcode);

  friend bool operator==(const Message&, const Message&) = default;
};

// Reads the 12-byte header only, for answering FORMERR to a message that does not decode.
[[nodiscard]] std::optional<Header> DecodeHeader(std::span<const uint8_t> wire);

[[nodiscard]] absl::StatusOr<Message> DecodeMessage(std::span<const uint8_t> wire);

// Appends `msg` to `out` with name compression. InvalidArgument when the message cannot be
// represented (over 65535 octets, a section over 65535 records, bad RDATA for its type).
[[nodiscard]] absl::Status EncodeMessage(const Message& msg, ByteWriter& out);

// Appends `msg` to `out` in at most `limit` octets. When it does not fit, whole RRsets are
// dropped from the end (answer and authority: TC is set; RFC 2181 section 9 forbids a partial
// RRset) and additional RRsets that do not fit are left out without TC; the OPT is always kept
// (RFC 6891 section 7). A limit below the header, question and OPT still sends those (with TC
// if any record was dropped). `truncated` (optional) tells whether TC was set. The caller
// picks the limit: 512 without EDNS (RFC 1035 section 4.2.1), else the client's size.
[[nodiscard]] absl::Status EncodeResponse(const Message& msg, size_t limit, ByteWriter& out,
                                          bool* truncated = nullptr);

// RDATA helpers for building records.
std::string ARdata(const std::array<uint8_t, 16>& bytes);     // first 4 bytes
std::string AaaaRdata(const std::array<uint8_t, 16>& bytes);  // all 16
// Splits `text` into character-strings of at most 255 octets (RFC 1035 section 3.3.14).
std::string TxtRdata(std::string_view text);
std::string MxRdata(uint16_t preference, std::string_view exchange);
std::string SoaRdata(std::string_view mname, std::string_view rname, uint32_t serial,
                     uint32_t refresh, uint32_t retry, uint32_t expire, uint32_t minimum);

// A short name for a type ("A", "AAAA", "TYPE65280") for logs and metrics.
std::string TypeName(uint16_t type);

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_WIRE_MESSAGE_H_
