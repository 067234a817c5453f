// Domain names in wire form (RFC 1035 section 3.1): a sequence of length-prefixed labels ending
// with the root's zero octet, held uncompressed in a std::string ("\3www\7example\3net\0").
//
// Names keep the case they arrived with; every comparison here is ASCII case-insensitive
// (RFC 4343), so an answer can echo the query's spelling. All functions are pure and
// thread-safe; the NameCompressor is per message.
#ifndef HOLDFAST_DNS_WIRE_NAME_H_
#define HOLDFAST_DNS_WIRE_NAME_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bytes/byte_reader.h"
#include "common/bytes/byte_writer.h"

namespace holdfast::dns {

// RFC 1035 section 2.3.4.
inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxLabelLength = 63;

// The root name in wire form.
inline std::string RootName() { return std::string(1, '\0'); }

// Parses presentation text ("www.example.net." or "www.example.net") into wire form. A name
// without the trailing dot is relative to `origin` (wire form) when one is given, else it is
// taken as fully qualified. "@" is `origin`. Supports \DDD and \X escapes (RFC 1035 5.1).
// InvalidArgument for empty labels, labels over 63 octets and names over 255.
[[nodiscard]] absl::StatusOr<std::string> NameFromText(std::string_view text,
                                                       std::string_view origin = {});

// Presentation form with the trailing dot; octets outside printable ASCII, dots and
// backslashes inside labels are escaped as \DDD or \X.
std::string NameToText(std::string_view wire);

// ASCII case-insensitive equality of two wire names.
bool NameEquals(std::string_view a, std::string_view b);
// The name with ASCII letters lowered (the key of every lookup table).
std::string LowerName(std::string_view wire);
// True when `name` is `apex` or below it (case-insensitive, on label boundaries).
bool IsSubdomain(std::string_view name, std::string_view apex);
// Labels before the root: 0 for the root.
int LabelCount(std::string_view wire);
// The name without its first label; the root's parent is the root.
std::string_view ParentName(std::string_view wire);

// Reads a possibly compressed name at the reader's position into `out` (uncompressed) and
// leaves the reader after the name's first pointer or terminator. Fails the reader for labels
// of reserved types (RFC 6891 section 5 retired extended labels), pointers that do not point
// strictly backwards (which also ends every pointer loop, RFC 1035 section 4.1.4) and names
// over 255 octets.
void ReadName(ByteReader& in, std::string& out);

// Writes names into one message, compressing each against the names written before
// (RFC 1035 section 4.1.4). Matching is exact byte for byte, so a decoded message encodes back
// to the same names, case included. Rewind() forgets what was written after a checkpoint, so
// truncation can drop an RRset and keep the table consistent.
class NameCompressor {
 public:
  struct Checkpoint {
    size_t entries = 0;
    size_t arena = 0;
  };

  // `base` is where the message starts in the writer (after a TCP length prefix, say):
  // pointers count from there.
  explicit NameCompressor(size_t base = 0) : base_(base) {
    // Room for a typical answer's names up front: one allocation each instead of a
    // reallocation per doubling on every message (tests/bench/dns).
    entries_.reserve(16);
    arena_.reserve(256);
  }

  // Appends `name` (wire form, uncompressed) to `out`.
  void Write(ByteWriter& out, std::string_view name, bool compress = true);
  Checkpoint Mark() const { return {entries_.size(), arena_.size()}; }
  void Rewind(const Checkpoint& c) {
    entries_.resize(c.entries);
    arena_.resize(c.arena);
  }

 private:
  struct Entry {
    uint32_t arena_offset;
    uint16_t length;
    uint16_t wire_offset;
  };
  size_t base_ = 0;
  std::vector<Entry> entries_;
  // The suffixes written so far, uncompressed, one after another.
  std::string arena_;
};

}  // namespace holdfast::dns

#endif  // HOLDFAST_DNS_WIRE_NAME_H_
