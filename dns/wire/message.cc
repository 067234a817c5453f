#include "dns/wire/message.h"

#include <algorithm>

#include "common/cat.h"
#include "dns/wire/name.h"

namespace holdfast::dns {
namespace {

// ---- per-type RDATA ---------------------------------------------------------------------------
//
// Framing (header, sections, RR fixed fields) is in DecodeMessage/EncodeMessage; what is inside
// an RDATA is decided here, through one table keyed by type. A type not in the table is opaque
// (RFC 3597 section 4: names inside unknown types are never compressed nor decompressed).

// Reads RDATA of `rdlength` octets at the reader's position into its uncompressed form.
using RdataDecoder = void (*)(ByteReader& in, size_t rdlength, std::string& out);
// Writes uncompressed `rdata` with compression where the type allows it; false when `rdata`
// is not valid for the type.
using RdataEncoder = bool (*)(std::string_view rdata, NameCompressor& names, ByteWriter& out);

void AppendName(ByteReader& in, std::string& out) {
  std::string name;
  ReadName(in, name);
  out += name;
}

void DecodeA(ByteReader& in, size_t rdlength, std::string& out) {
  // RFC 1035 section 3.4.1: exactly 32 bits.
  if (rdlength != 4) return in.Fail("A RDATA is not 4 octets");
  std::span<const uint8_t> b = in.Bytes(4, "A RDATA truncated");
  out.assign(reinterpret_cast<const char*>(b.data()), b.size());
}
void DecodeAaaa(ByteReader& in, size_t rdlength, std::string& out) {
  // RFC 3596 section 2.2: exactly 128 bits.
  if (rdlength != 16) return in.Fail("AAAA RDATA is not 16 octets");
  std::span<const uint8_t> b = in.Bytes(16, "AAAA RDATA truncated");
  out.assign(reinterpret_cast<const char*>(b.data()), b.size());
}
void DecodeOneName(ByteReader& in, size_t, std::string& out) { AppendName(in, out); }
void DecodeMx(ByteReader& in, size_t, std::string& out) {
  const uint16_t preference = in.U16("MX RDATA truncated");
  out.push_back(static_cast<char>(preference >> 8));
  out.push_back(static_cast<char>(preference & 0xff));
  AppendName(in, out);
}
void DecodeSoa(ByteReader& in, size_t, std::string& out) {
  AppendName(in, out);
  AppendName(in, out);
  std::span<const uint8_t> b = in.Bytes(20, "SOA RDATA truncated");
  out.append(reinterpret_cast<const char*>(b.data()), b.size());
}
void DecodeTxt(ByteReader& in, size_t rdlength, std::string& out) {
  // RFC 1035 section 3.3.14: one or more <character-string>s filling the RDATA exactly.
  if (rdlength == 0) return in.Fail("empty TXT RDATA");
  std::span<const uint8_t> b = in.Bytes(rdlength, "TXT RDATA truncated");
  for (size_t i = 0; i < b.size(); i += size_t{b[i]} + 1) {
    if (i + 1 + b[i] > b.size()) return in.Fail("TXT character-string overruns its RDATA");
  }
  out.assign(reinterpret_cast<const char*>(b.data()), b.size());
}
void DecodeOpaque(ByteReader& in, size_t rdlength, std::string& out) {
  std::span<const uint8_t> b = in.Bytes(rdlength, "RDATA truncated");
  out.assign(reinterpret_cast<const char*>(b.data()), b.size());
}

// Reads one uncompressed name from the start of `rdata`; `used` receives its length.
bool SplitName(std::string_view rdata, size_t& used) {
  size_t i = 0;
  while (i < rdata.size()) {
    const auto len = static_cast<uint8_t>(rdata[i]);
    if (len > kMaxLabelLength) return false;
    i += size_t{len} + 1;
    if (len == 0) {
      used = i;
      return i <= kMaxNameLength;
    }
  }
  return false;
}

bool EncodeFixed(std::string_view rdata, size_t size, ByteWriter& out) {
  if (rdata.size() != size) return false;
  out.Bytes(rdata);
  return true;
}
bool EncodeA(std::string_view rdata, NameCompressor&, ByteWriter& out) {
  return EncodeFixed(rdata, 4, out);
}
bool EncodeAaaa(std::string_view rdata, NameCompressor&, ByteWriter& out) {
  return EncodeFixed(rdata, 16, out);
}
bool EncodeOneName(std::string_view rdata, NameCompressor& names, ByteWriter& out) {
  size_t used = 0;
  if (!SplitName(rdata, used) || used != rdata.size()) return false;
  names.Write(out, rdata);
  return true;
}
bool EncodeMx(std::string_view rdata, NameCompressor& names, ByteWriter& out) {
  size_t used = 0;
  if (rdata.size() < 3 || !SplitName(rdata.substr(2), used) || used + 2 != rdata.size()) {
    return false;
  }
  out.Bytes(rdata.substr(0, 2));
  names.Write(out, rdata.substr(2));
  return true;
}
bool EncodeSoa(std::string_view rdata, NameCompressor& names, ByteWriter& out) {
  size_t m = 0;
  size_t r = 0;
  if (!SplitName(rdata, m) || !SplitName(rdata.substr(m), r) || m + r + 20 != rdata.size()) {
    return false;
  }
  names.Write(out, rdata.substr(0, m));
  names.Write(out, rdata.substr(m, r));
  out.Bytes(rdata.substr(m + r));
  return true;
}
bool EncodeTxt(std::string_view rdata, NameCompressor&, ByteWriter& out) {
  if (rdata.empty()) return false;
  for (size_t i = 0; i < rdata.size(); i += size_t{static_cast<uint8_t>(rdata[i])} + 1) {
    if (i + 1 + static_cast<uint8_t>(rdata[i]) > rdata.size()) return false;
  }
  out.Bytes(rdata);
  return true;
}
bool EncodeOpaque(std::string_view rdata, NameCompressor&, ByteWriter& out) {
  out.Bytes(rdata);
  return true;
}

struct RdataCodec {
  uint16_t type;
  RdataDecoder decode;
  RdataEncoder encode;
};

constexpr RdataCodec kCodecs[] = {
    {kTypeA, DecodeA, EncodeA},
    {kTypeNs, DecodeOneName, EncodeOneName},
    {kTypeCname, DecodeOneName, EncodeOneName},
    {kTypeSoa, DecodeSoa, EncodeSoa},
    {kTypeMx, DecodeMx, EncodeMx},
    {kTypeTxt, DecodeTxt, EncodeTxt},
    {kTypeAaaa, DecodeAaaa, EncodeAaaa},
};
constexpr RdataCodec kOpaque = {0, DecodeOpaque, EncodeOpaque};

const RdataCodec& CodecFor(uint16_t type) {
  for (const RdataCodec& c : kCodecs) {
    if (c.type == type) return c;
  }
  return kOpaque;
}

// ---- decoding ---------------------------------------------------------------------------------

void DecodeFlags(uint16_t flags, Header& h) {
  h.qr = (flags & 0x8000) != 0;
  h.opcode = static_cast<uint8_t>((flags >> 11) & 0xf);
  h.aa = (flags & 0x0400) != 0;
  h.tc = (flags & 0x0200) != 0;
  h.rd = (flags & 0x0100) != 0;
  h.ra = (flags & 0x0080) != 0;
  h.ad = (flags & 0x0020) != 0;
  h.cd = (flags & 0x0010) != 0;
  h.rcode = static_cast<uint8_t>(flags & 0xf);
}

uint16_t EncodeFlags(const Header& h) {
  return static_cast<uint16_t>((h.qr ? 0x8000 : 0) | ((h.opcode & 0xf) << 11) |
                               (h.aa ? 0x0400 : 0) | (h.tc ? 0x0200 : 0) | (h.rd ? 0x0100 : 0) |
                               (h.ra ? 0x0080 : 0) | (h.ad ? 0x0020 : 0) | (h.cd ? 0x0010 : 0) |
                               (h.rcode & 0xf));
}

// Reads one RR; an OPT goes to `msg.edns` (only from the additional section).
void DecodeRecord(ByteReader& in, int section, Message& msg, std::vector<ResourceRecord>& out) {
  ResourceRecord rr;
  ReadName(in, rr.name);
  rr.type = in.U16("RR type truncated");
  rr.rclass = in.U16("RR class truncated");
  rr.ttl = in.U32("RR TTL truncated");
  const uint16_t rdlength = in.U16("RDLENGTH truncated");
  if (!in.ok()) return;
  if (rdlength > in.remaining()) return in.Fail("RDATA runs past the end of the message");
  const size_t end = in.offset() + rdlength;
  if (rr.type == kTypeOpt) {
    // RFC 6891 section 6.1.1: one OPT at most, in the additional section, owned by the root.
    if (section != 3) return in.Fail("OPT outside the additional section");
    if (msg.edns.has_value()) return in.Fail("more than one OPT record");
    if (rr.name.size() != 1) return in.Fail("OPT owner is not the root");
    Edns e;
    e.udp_size = rr.rclass;
    e.extended_rcode = static_cast<uint8_t>(rr.ttl >> 24);
    e.version = static_cast<uint8_t>((rr.ttl >> 16) & 0xff);
    e.dnssec_ok = (rr.ttl & 0x8000) != 0;
    e.z = static_cast<uint16_t>(rr.ttl & 0x7fff);
    std::span<const uint8_t> opts = in.Bytes(rdlength, "OPT RDATA truncated");
    // RFC 6891 section 6.1.2: {OPTION-CODE, OPTION-LENGTH, OPTION-DATA}, each fitting.
    for (size_t i = 0; i < opts.size();) {
      if (opts.size() - i < 4) return in.Fail("OPT option header truncated");
      const size_t len = (size_t{opts[i + 2]} << 8) | opts[i + 3];
      if (opts.size() - i - 4 < len) return in.Fail("OPT option runs past its RDATA");
      i += 4 + len;
    }
    e.options.assign(reinterpret_cast<const char*>(opts.data()), opts.size());
    msg.edns = std::move(e);
    return;
  }
  CodecFor(rr.type).decode(in, rdlength, rr.rdata);
  if (in.ok() && in.offset() != end) return in.Fail("RDATA length does not match its content");
  if (in.ok()) out.push_back(std::move(rr));
}

// ---- encoding ---------------------------------------------------------------------------------

// Writes one RR; false (and nothing useful written) when its RDATA is invalid for its type.
bool EncodeRecord(const ResourceRecord& rr, NameCompressor& names, ByteWriter& out) {
  names.Write(out, rr.name);
  out.U16(rr.type);
  out.U16(rr.rclass);
  out.U32(rr.ttl);
  const size_t rdlength_at = out.size();
  out.U16(0);
  if (!CodecFor(rr.type).encode(rr.rdata, names, out)) return false;
  const size_t rdlength = out.size() - rdlength_at - 2;
  if (rdlength > 0xffff) return false;
  out.PatchU16(rdlength_at, static_cast<uint16_t>(rdlength));
  return true;
}

size_t OptSize(const Edns& e) { return 11 + e.options.size(); }

void EncodeOpt(const Edns& e, ByteWriter& out) {
  out.U8(0);
  out.U16(kTypeOpt);
  out.U16(e.udp_size);
  out.U32((uint32_t{e.extended_rcode} << 24) | (uint32_t{e.version} << 16) |
          (e.dnssec_ok ? 0x8000u : 0u) | (e.z & 0x7fffu));
  out.U16(static_cast<uint16_t>(e.options.size()));
  out.Bytes(e.options);
}

bool SameRrset(const ResourceRecord& a, const ResourceRecord& b) {
  return a.type == b.type && a.rclass == b.rclass && NameEquals(a.name, b.name);
}

absl::Status Encode(const Message& msg, size_t limit, bool may_truncate, ByteWriter& out,
                    bool* truncated) {
  if (truncated != nullptr) *truncated = false;
  const size_t base = out.size();
  if (msg.edns.has_value() && msg.edns->options.size() > 0xffff) {
    return absl::InvalidArgumentError("OPT options over 65535 octets");
  }
  const size_t opt_size = msg.edns.has_value() ? OptSize(*msg.edns) : 0;
  if (msg.questions.size() > 0xffff || msg.answers.size() > 0xffff ||
      msg.authority.size() > 0xffff || msg.additional.size() + (opt_size > 0 ? 1 : 0) > 0xffff) {
    return absl::InvalidArgumentError("more than 65535 records in a section");
  }
  Header header = msg.header;
  out.U16(header.id);
  out.U16(0);  // flags, patched at the end (TC)
  for (int i = 0; i < 4; ++i) out.U16(0);

  NameCompressor names(base);
  for (const Question& q : msg.questions) {
    size_t used = 0;
    if (!SplitName(q.name, used) || used != q.name.size()) {
      return absl::InvalidArgumentError("malformed question name");
    }
    names.Write(out, q.name);
    out.U16(q.type);
    out.U16(q.qclass);
  }
  // Room left for the records, the OPT set aside (RFC 6891 section 7: it is kept).
  const size_t budget = limit > opt_size ? limit - opt_size : 0;
  uint16_t counts[3] = {0, 0, 0};
  bool cut = out.size() - base > budget;
  const std::vector<ResourceRecord>* sections[3] = {&msg.answers, &msg.authority, &msg.additional};
  for (int s = 0; s < 3 && !cut; ++s) {
    const std::vector<ResourceRecord>& rrs = *sections[s];
    for (size_t i = 0; i < rrs.size();) {
      // One RRset: the run of records with this owner, type and class.
      size_t j = i + 1;
      while (j < rrs.size() && SameRrset(rrs[i], rrs[j])) ++j;
      const size_t mark = out.size();
      const NameCompressor::Checkpoint names_mark = names.Mark();
      for (size_t k = i; k < j; ++k) {
        if (!EncodeRecord(rrs[k], names, out)) {
          return absl::InvalidArgumentError(
              Cat("RDATA not valid for type ", TypeName(rrs[k].type)));
        }
      }
      if (out.size() - base > budget) {
        if (!may_truncate) return absl::InvalidArgumentError("message over 65535 octets");
        out.Rewind(mark);
        names.Rewind(names_mark);
        // RFC 2181 section 9: TC only when required data is missing; glue and other
        // additional data that does not fit is simply left out.
        if (s < 2) {
          cut = true;
          break;
        }
      } else {
        counts[s] = static_cast<uint16_t>(counts[s] + (j - i));
      }
      i = j;
    }
  }
  if (cut) {
    if (!may_truncate) return absl::InvalidArgumentError("message over 65535 octets");
    header.tc = true;
    if (truncated != nullptr) *truncated = true;
  }
  if (msg.edns.has_value()) EncodeOpt(*msg.edns, out);
  out.PatchU16(base + 2, EncodeFlags(header));
  out.PatchU16(base + 4, static_cast<uint16_t>(msg.questions.size()));
  out.PatchU16(base + 6, counts[0]);
  out.PatchU16(base + 8, counts[1]);
  out.PatchU16(base + 10, static_cast<uint16_t>(counts[2] + (msg.edns.has_value() ? 1 : 0)));
  return absl::OkStatus();
}

std::string FixedRdata(const std::array<uint8_t, 16>& bytes, size_t n) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), n);
}

}  // namespace

uint16_t Message::rcode() const {
  return static_cast<uint16_t>(header.rcode | (edns.has_value() ? edns->extended_rcode << 4 : 0));
}

void Message::set_rcode(uint16_t rcode) {
  header.rcode = static_cast<uint8_t>(rcode & 0xf);
  if (edns.has_value()) edns->extended_rcode = static_cast<uint8_t>(rcode >> 4);
}

std::optional<Header> DecodeHeader(std::span<const uint8_t> wire) {
  if (wire.size() < kHeaderSize) return std::nullopt;
  Header h;
  h.id = static_cast<uint16_t>((wire[0] << 8) | wire[1]);
  DecodeFlags(static_cast<uint16_t>((wire[2] << 8) | wire[3]), h);
  return h;
}

absl::StatusOr<Message> DecodeMessage(std::span<const uint8_t> wire) {
  // RFC 1035 section 4.2: at most 65535 octets on any transport.
  if (wire.size() > 0xffff) return absl::InvalidArgumentError("message over 65535 octets");
  ByteReader in(wire);
  Message msg;
  msg.header.id = in.U16("header truncated");
  DecodeFlags(in.U16("header truncated"), msg.header);
  const uint16_t qdcount = in.U16("header truncated");
  const uint16_t ancount = in.U16("header truncated");
  const uint16_t nscount = in.U16("header truncated");
  const uint16_t arcount = in.U16("header truncated");
  if (!in.ok()) return absl::InvalidArgumentError(std::string(in.error()));
  // Every loop below is bounded by its 16-bit count, and each pass consumes at least five
  // octets or fails the reader, which ends the loop.
  for (uint16_t i = 0; i < qdcount && in.ok(); ++i) {
    Question q;
    ReadName(in, q.name);
    q.type = in.U16("question type truncated");
    q.qclass = in.U16("question class truncated");
    if (in.ok()) msg.questions.push_back(std::move(q));
  }
  const uint16_t counts[3] = {ancount, nscount, arcount};
  std::vector<ResourceRecord>* sections[3] = {&msg.answers, &msg.authority, &msg.additional};
  for (int s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s] && in.ok(); ++i) {
      DecodeRecord(in, s + 1, msg, *sections[s]);
    }
  }
  if (in.ok() && in.remaining() != 0) in.Fail("trailing octets after the last record");
  if (!in.ok()) return absl::InvalidArgumentError(std::string(in.error()));
  return msg;
}

absl::Status EncodeMessage(const Message& msg, ByteWriter& out) {
  const size_t base = out.size();
  absl::Status s = Encode(msg, 0xffff, false, out, nullptr);
  if (!s.ok()) out.Rewind(base);
  return s;
}

absl::Status EncodeResponse(const Message& msg, size_t limit, ByteWriter& out, bool* truncated) {
  const size_t base = out.size();
  absl::Status s = Encode(msg, std::min<size_t>(limit, 0xffff), true, out, truncated);
  if (!s.ok()) out.Rewind(base);
  return s;
}

std::string ARdata(const std::array<uint8_t, 16>& bytes) { return FixedRdata(bytes, 4); }
std::string AaaaRdata(const std::array<uint8_t, 16>& bytes) { return FixedRdata(bytes, 16); }

std::string TxtRdata(std::string_view text) {
  std::string out;
  // An empty text is one empty character-string: TXT RDATA is never empty.
  do {
    const size_t n = std::min<size_t>(text.size(), 255);
    out.push_back(static_cast<char>(n));
    out.append(text.substr(0, n));
    text.remove_prefix(n);
  } while (!text.empty());
  return out;
}

std::string MxRdata(uint16_t preference, std::string_view exchange) {
  std::string out;
  out.push_back(static_cast<char>(preference >> 8));
  out.push_back(static_cast<char>(preference & 0xff));
  out.append(exchange);
  return out;
}

std::string SoaRdata(std::string_view mname, std::string_view rname, uint32_t serial,
                     uint32_t refresh, uint32_t retry, uint32_t expire, uint32_t minimum) {
  ByteWriter w;
  w.Bytes(mname);
  w.Bytes(rname);
  for (uint32_t v : {serial, refresh, retry, expire, minimum}) w.U32(v);
  return w.Release();
}

std::string TypeName(uint16_t type) {
  switch (type) {
    case kTypeA:
      return "A";
    case kTypeNs:
      return "NS";
    case kTypeCname:
      return "CNAME";
    case kTypeSoa:
      return "SOA";
    case kTypeMx:
      return "MX";
    case kTypeTxt:
      return "TXT";
    case kTypeAaaa:
      return "AAAA";
    case kTypeOpt:
      return "OPT";
    case kTypeAxfr:
      return "AXFR";
    case kTypeAny:
      return "ANY";
    default:
      return Cat("TYPE", type);
  }
}

}  // namespace holdfast::dns
