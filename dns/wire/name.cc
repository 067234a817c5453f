#include "dns/wire/name.h"

#include "absl/status/status.h"
#include "common/cat.h"

namespace holdfast::dns {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Pointers carried by one name: each must point before the previous, so a name has at most
// one pointer per earlier octet; the cap is a second, cheaper bound against pathological input.
constexpr int kMaxPointers = 128;

}  // namespace

absl::StatusOr<std::string> NameFromText(std::string_view text, std::string_view origin) {
  if (text == "@") {
    if (origin.empty()) return absl::InvalidArgumentError("\"@\" without an origin");
    return std::string(origin);
  }
  if (text == ".") return RootName();
  if (text.empty()) return absl::InvalidArgumentError("empty name");
  std::string out;
  std::string label;
  bool absolute = false;
  auto end_label = [&]() -> absl::Status {
    if (label.empty()) return absl::InvalidArgumentError(Cat("empty label in ", text));
    if (label.size() > kMaxLabelLength) {
      return absl::InvalidArgumentError(Cat("label over 63 octets in ", text));
    }
    out.push_back(static_cast<char>(label.size()));
    out += label;
    label.clear();
    return absl::OkStatus();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 3 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '9') {
        const int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
        if (v > 255 || text[i + 2] < '0' || text[i + 2] > '9' || text[i + 3] < '0' ||
            text[i + 3] > '9') {
          return absl::InvalidArgumentError(Cat("bad escape in ", text));
        }
        label.push_back(static_cast<char>(v));
        i += 3;
      } else if (i + 1 < text.size()) {
        label.push_back(text[++i]);
      } else {
        return absl::InvalidArgumentError(Cat("trailing backslash in ", text));
      }
    } else if (c == '.') {
      if (absl::Status s = end_label(); !s.ok()) return s;
      if (i + 1 == text.size()) absolute = true;
    } else {
      label.push_back(c);
    }
  }
  if (!absolute) {
    if (absl::Status s = end_label(); !s.ok()) return s;
  }
  if (!absolute && !origin.empty()) {
    out.append(origin);
  } else {
    out.push_back('\0');
  }
  if (out.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(Cat("name over 255 octets: ", text));
  }
  return out;
}

std::string NameToText(std::string_view wire) {
  std::string out;
  size_t i = 0;
  while (i < wire.size() && wire[i] != '\0') {
    const size_t len = static_cast<uint8_t>(wire[i]);
    for (size_t j = i + 1; j <= i + len && j < wire.size(); ++j) {
      const auto c = static_cast<uint8_t>(wire[j]);
      if (c == '.' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c <= ' ' || c >= 0x7f) {
        out.push_back('\\');
        out.push_back(static_cast<char>('0' + c / 100));
        out.push_back(static_cast<char>('0' + c / 10 % 10));
        out.push_back(static_cast<char>('0' + c % 10));
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('.');
    i += len + 1;
  }
  return out.empty() ? "." : out;
}

bool NameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    // Length octets are below 64 and so never letters; lowering them changes nothing.
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string LowerName(std::string_view wire) {
  std::string out(wire);
  for (char& c : out) c = Lower(c);
  return out;
}

bool IsSubdomain(std::string_view name, std::string_view apex) {
  if (apex.size() > name.size()) return false;
  // Walk the labels of `name` until the rest is as long as `apex`: only a label boundary may
  // match, or "xexample.net" would sit below "example.net".
  size_t i = 0;
  while (name.size() - i > apex.size()) {
    i += static_cast<uint8_t>(name[i]) + 1;
  }
  return name.size() - i == apex.size() && NameEquals(name.substr(i), apex);
}

int LabelCount(std::string_view wire) {
  int n = 0;
  size_t i = 0;
  while (i < wire.size() && wire[i] != '\0') {
    i += static_cast<uint8_t>(wire[i]) + 1;
    ++n;
  }
  return n;
}

std::string_view ParentName(std::string_view wire) {
  if (wire.empty() || wire[0] == '\0') return wire;
  return wire.substr(static_cast<uint8_t>(wire[0]) + 1);
}

void ReadName(ByteReader& in, std::string& out) {
  out.clear();
  std::span<const uint8_t> data = in.data();
  size_t pos = in.offset();
  // Where the reader continues: after the first pointer, or after the terminator.
  size_t resume = 0;
  bool jumped = false;
  int pointers = 0;
  // Pointers must point strictly before the smallest position seen so far.
  size_t floor = pos;
  for (;;) {
    if (pos >= data.size()) {
      in.Fail("name runs past the end of the message");
      return;
    }
    const uint8_t len = data[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= data.size()) {
        in.Fail("compression pointer runs past the end of the message");
        return;
      }
      const size_t target = (size_t{len & 0x3fu} << 8) | data[pos + 1];
      // RFC 1035 section 4.1.4: a pointer names a prior occurrence. Only backward pointers
      // are accepted, which rules out every loop.
      if (target >= floor || ++pointers > kMaxPointers) {
        in.Fail("compression pointer does not point backwards");
        return;
      }
      if (!jumped) {
        resume = pos + 2;
        jumped = true;
      }
      floor = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) != 0) {
      // 0x40 (extended label, RFC 6891 section 5) and 0x80 are not in use.
      in.Fail("reserved label type");
      return;
    }
    if (pos + 1 + len > data.size()) {
      in.Fail("label runs past the end of the message");
      return;
    }
    if (out.size() + 1 + len > kMaxNameLength) {
      in.Fail("name over 255 octets");
      return;
    }
    out.append(reinterpret_cast<const char*>(data.data() + pos), len + 1u);
    pos += len + 1u;
    if (len == 0) break;
  }
  in.Seek(jumped ? resume : pos);
}

void NameCompressor::Write(ByteWriter& out, std::string_view name, bool compress) {
  size_t i = 0;
  while (i < name.size() && name[i] != '\0') {
    const std::string_view suffix = name.substr(i);
    if (compress) {
      for (const Entry& e : entries_) {
        if (e.length == suffix.size() &&
            std::string_view(arena_).substr(e.arena_offset, e.length) == suffix) {
          out.U16(static_cast<uint16_t>(0xc000 | e.wire_offset));
          return;
        }
      }
    }
    // Offsets past 0x3fff cannot be pointed at (14-bit pointers).
    const size_t offset = out.size() - base_;
    if (compress && offset < 0x4000) {
      entries_.push_back(Entry{static_cast<uint32_t>(arena_.size()),
                               static_cast<uint16_t>(suffix.size()),
                               static_cast<uint16_t>(offset)});
      arena_.append(suffix);
    }
    const size_t len = static_cast<uint8_t>(name[i]);
    out.Bytes(name.substr(i, len + 1));
    i += len + 1;
  }
  out.U8(0);
}

}  // namespace holdfast::dns
