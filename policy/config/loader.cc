#include "policy/config/loader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/file/read_file.h"
#include "common/proto_time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "holdfast/v1/options.pb.h"
#include "policy/config/internal/yaml_tree.h"

namespace holdfast::policy {
namespace {

namespace pb = google::protobuf;
using FieldDescriptor = pb::FieldDescriptor;

// A YAML position, 1-based.
struct Mark {
  int file = 0;
  int line = 1;
  int column = 1;
};

// One YAML map that contributes to a message: several files may contribute to one message.
struct Part {
  yaml::Node node;
  Mark mark;
};

// Offset of the first byte that is not valid UTF-8 or is NUL, or npos. A NUL is legal UTF-8
// but no YAML text holds one, and it is how binary files show themselves.
size_t FirstNonTextByte(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t min = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    uint32_t cp = c & (0x7fu >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 (RFC 3629).
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return absl::string_view::npos;
}

// `s` with every byte that is not UTF-8 text (or is NUL) replaced by U+FFFD, for messages: they
// quote the input, and a message that cuts a character apart (or quotes a NUL from a "\0"
// escape) must still print, and still be JSON.
std::string AsText(std::string text) {
  absl::string_view s = text;
  size_t bad = FirstNonTextByte(s);
  if (bad == absl::string_view::npos) return text;
  std::string out;
  for (; bad != absl::string_view::npos; bad = FirstNonTextByte(s)) {
    absl::StrAppend(&out, s.substr(0, bad), "\xef\xbf\xbd");
    s.remove_prefix(bad + 1);
  }
  absl::StrAppend(&out, s);
  return out;
}

std::string JoinPath(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string Describe(const yaml::Node& n) {
  switch (n.kind()) {
    case yaml::Kind::kMap:
      return "a map";
    case yaml::Kind::kSequence:
      return "a list";
    case yaml::Kind::kNull:
      return "nothing";
    default:
      return absl::StrCat("'", n.scalar(), "'");
  }
}

class Loader {
 public:
  Loader(const LoadOptions& options, pb::Message& root) : options_(options), root_(root) {
    // "listeners, routes, clusters, ...": what a top-level map holds, for messages.
    const pb::Descriptor* desc = root.GetDescriptor();
    for (int i = 0, listed = 0; i < desc->field_count() && listed < 4; ++i) {
      if (desc->field(i)->name() == "include") continue;
      absl::StrAppend(&top_level_keys_, desc->field(i)->name(), ", ");
      ++listed;
    }
    top_level_keys_ += "...";
    follow_includes_ = desc->FindFieldByName("include") != nullptr;
  }

  LoadedYaml Run(const std::vector<std::string>& paths) {
    for (const std::string& p : paths) LoadFile(p, std::nullopt, 0);
    // Convert even when no file gave a usable map (a top level that is a list): the defaults
    // must be filled in, or the validator reads their zero values as mistakes.
    if (!out_.sources.files().empty() && !over_budget_) {
      ConvertMessage(parts_, root_, "");
    }
    return std::move(out_);
  }

 private:
  // ---- findings ---------------------------------------------------------------------------

  // A finding with its whole message and its subject (the config path it is about).
  void Emit(Code code, const Mark& m, std::string message, std::string subject) {
    out_.findings.push_back(
        Finding{SourceLocation{out_.sources.files()[static_cast<size_t>(m.file)], m.line, m.column},
                Info(code).severity, code, AsText(std::move(message)), std::move(subject)});
  }
  // A finding about a whole file.
  void Report(Code code, const Mark& m, std::string message) {
    Emit(code, m, std::move(message), "");
  }
  // A finding about the value at `path`, which the message names first.
  void Report(Code code, const Mark& m, absl::string_view path, absl::string_view message) {
    Emit(code, m, path.empty() ? std::string(message) : absl::StrCat(path, ": ", message),
         std::string(path));
  }
  // Reports a problem with a file that is not yet registered (could not be read).
  void ReportFile(Code code, const std::string& file, std::string message) {
    out_.findings.push_back(Finding{SourceLocation{file, 1, 1}, Info(code).severity, code,
                                    AsText(std::move(message)), ""});
  }

  // Where `n` starts, in the file of `fallback`. Null values ("key:" with nothing) take the
  // place of their key, `fallback`: nothing else marks them.
  static Mark MarkOf(const yaml::Node& n, const Mark& fallback) {
    if (n.IsNull()) return fallback;
    return Mark{fallback.file, n.line(), n.column()};
  }

  void Record(const std::string& path, const Mark& m) {
    out_.sources.Add(path, m.file, m.line, m.column);
  }

  // Counts one converted value; false once the config is past kMaxValues (alias expansion).
  bool Spend(const Mark& m) {
    if (over_budget_) return false;
    if (++values_ <= kMaxValues) return true;
    over_budget_ = true;
    Report(Code::kTooLarge, m,
           absl::StrCat("config has more than ", kMaxValues,
                        " values (aliases expanding without bound?); stopped reading"));
    return false;
  }

  // ---- files and includes -----------------------------------------------------------------

  void LoadFile(const std::string& path, std::optional<Mark> included_at, int depth) {
    std::error_code ec;
    std::filesystem::path identity = std::filesystem::absolute(path, ec).lexically_normal();
    if (ec) identity = std::filesystem::path(path).lexically_normal();
    if (!seen_files_.insert(identity.string()).second) return;  // each file once

    if (static_cast<int>(out_.sources.files().size()) >= kMaxFiles) {
      const std::string msg = absl::StrCat("more than ", kMaxFiles, " config files; '", path,
                                           "' and later ones are not read");
      if (included_at) {
        Report(Code::kTooLarge, *included_at, msg);
      } else {
        ReportFile(Code::kTooLarge, path, msg);
      }
      return;
    }

    absl::StatusOr<std::string> data =
        options_.read_file ? options_.read_file(path) : ReadFile(path, kMaxFileBytes);
    if (data.ok() && data->size() > kMaxFileBytes) {
      data = absl::ResourceExhaustedError(absl::StrCat("larger than ", kMaxFileBytes, " bytes"));
    }
    if (!data.ok()) {
      const Code code = data.status().code() == absl::StatusCode::kResourceExhausted
                            ? Code::kTooLarge
                            : Code::kFileUnreadable;
      if (included_at) {
        Report(code, *included_at,
               absl::StrCat("include: cannot read '", path, "': ", data.status().message()));
      } else {
        ReportFile(code, path, absl::StrCat("cannot read config: ", data.status().message()));
      }
      return;
    }

    const int file = out_.sources.AddFile(path);
    const Mark top{file, 1, 1};
    if (const size_t bad = FirstNonTextByte(*data); bad != absl::string_view::npos) {
      Report(Code::kNotText, top,
             absl::StrCat("not a text file: byte ", bad, " is not UTF-8 text (binary file?)"));
      return;
    }

    // Whitespace alone is an empty file, even with a tab (which YAML allows nowhere else
    // at the start of a line, and libyaml rejects).
    std::unique_ptr<yaml::Tree> tree =
        yaml::Parse(absl::StripAsciiWhitespace(*data).empty() ? absl::string_view() : *data);
    if (const auto& error = tree->error()) {
      Report(Code::kYamlSyntax, Mark{file, error->line, error->column},
             absl::StrCat("YAML syntax error: ", AsText(error->message)));
      return;
    }
    const std::vector<yaml::Node>& docs = tree->documents();
    if (docs.empty()) {
      Report(Code::kEmptyFile, top,
             absl::StrCat("empty config file: expected a map of top-level keys (", top_level_keys_,
                          ")"));
      return;
    }
    if (docs.size() > 1) {
      Report(Code::kYamlSyntax, MarkOf(docs[1], top),
             absl::StrCat("the file holds ", docs.size(),
                          " YAML documents; a config file holds one (use include)"));
      return;
    }
    const yaml::Node root = docs[0];
    if (!root.IsMap()) {
      Report(Code::kWrongType, MarkOf(root, top),
             absl::StrCat("expected a map of top-level keys (", top_level_keys_, "), got ",
                          Describe(root)));
      return;
    }
    parts_.push_back(Part{root, MarkOf(root, top)});
    trees_.push_back(std::move(tree));  // the parts point into it

    // Follow includes now, depth first, so that lists keep the order the files are named in.
    // Their shape is checked with everything else when the config is converted.
    for (int i = 0; follow_includes_ && i < root.size(); ++i) {
      const yaml::Node key = root.key(i);
      const yaml::Node includes = root.value(i);
      if (!key.IsScalar() || key.scalar() != "include" || !includes.IsSequence()) continue;
      for (int k = 0; k < includes.size(); ++k) {
        const yaml::Node item = includes.item(k);
        // Items that are no file name are reported when the config is converted; a NUL (from
        // a "\0" escape) would cut the name short at open(2).
        if (!item.IsScalar() || FirstNonTextByte(item.scalar()) != absl::string_view::npos) {
          continue;
        }
        const Mark at = MarkOf(item, top);
        if (depth + 1 > kMaxIncludeDepth) {
          Report(Code::kIncludeError, at,
                 absl::StrCat("include: nested deeper than ", kMaxIncludeDepth, " files"));
          continue;
        }
        const std::filesystem::path child =
            std::filesystem::path(path).parent_path() / std::string(item.scalar());
        LoadFile(child.string(), at, depth + 1);
      }
      break;
    }
  }

  // ---- conversion -------------------------------------------------------------------------

  struct Entry {
    yaml::Node value;
    Mark key_mark;
    Mark value_mark;
  };

  // Fills `msg` from every part; fields no part sets take their defaults.
  void ConvertMessage(const std::vector<Part>& parts, pb::Message& msg, const std::string& path) {
    const pb::Descriptor* desc = msg.GetDescriptor();
    absl::flat_hash_map<const FieldDescriptor*, std::vector<Entry>> entries;

    int rejected = 0;
    for (const Part& part : parts) {
      if (part.node.IsNull()) continue;  // "key:" with nothing: an empty map
      if (!part.node.IsMap()) {
        Report(Code::kWrongType, part.mark, path,
               absl::StrCat("expected a map, got ", Describe(part.node)));
        ++rejected;
        continue;
      }
      absl::flat_hash_map<std::string, Mark> seen;
      for (int i = 0; i < part.node.size(); ++i) {
        const yaml::Node key_node = part.node.key(i);
        const yaml::Node value = part.node.value(i);
        const Mark key_mark{part.mark.file, key_node.line(), key_node.column()};
        if (!Spend(key_mark)) return;
        // These findings are about one key of the map, not the whole map: their subject is
        // the key's path, so the validator's findings about the map's other keys still show.
        const std::string prefix = path.empty() ? "" : absl::StrCat(path, ": ");
        if (!key_node.IsScalar()) {
          Emit(Code::kWrongType, key_mark, prefix + "a key must be a plain word",
               JoinPath(path, "?"));
          continue;
        }
        const std::string key(key_node.scalar());
        if (auto [prev, inserted] = seen.try_emplace(key, key_mark); !inserted) {
          Emit(Code::kDuplicateKey, key_mark,
               absl::StrCat(prefix, "key '", key, "' given twice in one map (first at line ",
                            prev->second.line, ")"),
               JoinPath(path, key));
          continue;
        }
        const FieldDescriptor* field = desc->FindFieldByName(key);
        if (field == nullptr) {
          Emit(Code::kUnknownKey, key_mark,
               absl::StrCat(prefix, "unknown key '", key, "'", Suggest(desc, key)),
               JoinPath(path, key));
          continue;
        }
        entries[field].push_back(Entry{value, key_mark, MarkOf(value, key_mark)});
      }
    }

    // Nothing was written that could hold keys: what is missing from it is not news.
    if (!parts.empty() && rejected == static_cast<int>(parts.size())) return;
    const Mark here = parts.empty() ? Mark{} : parts.front().mark;
    for (int i = 0; i < desc->field_count(); ++i) {
      const FieldDescriptor* field = desc->field(i);
      const std::string field_path = JoinPath(path, field->name());
      auto it = entries.find(field);
      if (it == entries.end()) {
        ApplyDefault(msg, field, path, field_path, parts.empty(), here);
        continue;
      }
      const std::vector<Entry>& es = it->second;
      if (field->is_repeated()) {
        for (const Entry& e : es) ConvertList(msg, field, e, field_path);
      } else if (es.size() == 1) {
        ConvertSingle(msg, field, es[0], field_path);
      } else if (IsPlainMessage(field)) {
        // The same map in several files: merge it, field by field.
        std::vector<Part> sub;
        for (const Entry& e : es) {
          Record(field_path, e.value_mark);
          sub.push_back(Part{e.value, e.value_mark});
        }
        ConvertMessage(sub, *msg.GetReflection()->MutableMessage(&msg, field), field_path);
      } else {
        ConvertSingle(msg, field, es[0], field_path);
        for (size_t k = 1; k < es.size(); ++k) {
          const SourceLocation first = out_.sources.Find(field_path);
          Report(Code::kConflictingFiles, es[k].key_mark, field_path,
                 absl::StrCat("set again in another file (first set at ", first.file, ":",
                              first.line, ":", first.column, ")"));
        }
      }
    }
  }

  static bool IsPlainMessage(const FieldDescriptor* f) {
    return f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
           f->message_type()->full_name() != "google.protobuf.Duration";
  }

  static std::string Suggest(const pb::Descriptor* desc, absl::string_view key) {
    std::vector<std::string> names;
    names.reserve(static_cast<size_t>(desc->field_count()));
    for (int i = 0; i < desc->field_count(); ++i) names.push_back(desc->field(i)->name());
    // A near miss first: same letters but for case, '-' for '_', or one edit away.
    for (const std::string& n : names) {
      std::string k = absl::AsciiStrToLower(key);
      std::replace(k.begin(), k.end(), '-', '_');
      if (k == n || EditDistanceAtMostOne(k, n)) return absl::StrCat("; did you mean '", n, "'?");
    }
    return absl::StrCat("; expected one of: ", absl::StrJoin(names, ", "));
  }

  static bool EditDistanceAtMostOne(absl::string_view a, absl::string_view b) {
    if (a.size() > b.size()) std::swap(a, b);
    if (b.size() - a.size() > 1) return false;
    size_t i = 0;
    while (i < a.size() && a[i] == b[i]) ++i;
    if (a.size() == b.size()) {
      // One substitution, or one transposition of neighbours.
      if (i == a.size()) return true;
      if (a.substr(i + 1) == b.substr(i + 1)) return true;
      return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] &&
             a.substr(i + 2) == b.substr(i + 2);
    }
    return a.substr(i) == b.substr(i + 1);  // one insertion
  }

  void ApplyDefault(pb::Message& msg, const FieldDescriptor* field, const std::string& path,
                    const std::string& field_path, bool defaults_only, const Mark& here) {
    const pb::FieldOptions& opts = field->options();
    if (opts.GetExtension(v1::required) && !defaults_only) {
      // Message at the map that lacks the key; subject the key, whose checks it stands for.
      Emit(Code::kMissingKey, here,
           absl::StrCat(path.empty() ? "" : absl::StrCat(path, ": "), "missing required key '",
                        field->name(), "'"),
           field_path);
      return;
    }
    const std::string& def = opts.GetExtension(v1::default_value);
    if (def.empty()) return;
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && def == "{}") {
      ConvertMessage({}, *msg.GetReflection()->MutableMessage(&msg, field), field_path);
      return;
    }
    // A default that does not parse is a bug in config.proto; the loader test catches it.
    SetScalar(msg, field, def, /*quoted=*/false, here, field_path);
  }

  void ConvertList(pb::Message& msg, const FieldDescriptor* field, const Entry& e,
                   const std::string& field_path) {
    if (e.value.IsNull()) return;  // "key:" with nothing: an empty list
    if (!e.value.IsSequence()) {
      Report(Code::kWrongType, e.value_mark, field_path,
             absl::StrCat("expected a list, got ", Describe(e.value)));
      return;
    }
    Record(field_path, e.value_mark);
    const pb::Reflection* refl = msg.GetReflection();
    for (int i = 0; i < e.value.size(); ++i) {
      const yaml::Node item = e.value.item(i);
      const Mark m = MarkOf(item, e.value_mark);
      if (!Spend(m)) return;
      const std::string item_path = absl::StrCat(field_path, "[", refl->FieldSize(msg, field), "]");
      Record(item_path, m);
      if (IsPlainMessage(field)) {
        ConvertMessage({Part{item, m}}, *refl->AddMessage(&msg, field), item_path);
      } else if (!item.IsScalar()) {
        Report(Code::kWrongType, m, item_path,
               absl::StrCat("expected ", TypeName(field), ", got ", Describe(item)));
      } else {
        SetScalar(msg, field, item.scalar(), item.quoted(), m, item_path);
      }
    }
  }

  void ConvertSingle(pb::Message& msg, const FieldDescriptor* field, const Entry& e,
                     const std::string& field_path) {
    Record(field_path, e.value_mark);
    if (IsPlainMessage(field)) {
      ConvertMessage({Part{e.value, e.value_mark}},
                     *msg.GetReflection()->MutableMessage(&msg, field), field_path);
      return;
    }
    if (!e.value.IsScalar()) {
      Report(Code::kWrongType, e.value_mark, field_path,
             absl::StrCat("expected ", TypeName(field), ", got ", Describe(e.value)));
      return;
    }
    SetScalar(msg, field, e.value.scalar(), e.value.quoted(), e.value_mark, field_path);
  }

  static std::string TypeName(const FieldDescriptor* f) {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        return "a string";
      case FieldDescriptor::CPPTYPE_BOOL:
        return "true or false";
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        return "a number";
      case FieldDescriptor::CPPTYPE_ENUM:
        return absl::StrCat("one of ", absl::StrJoin(EnumNames(f->enum_type()), ", "));
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return IsPlainMessage(f) ? "a map" : "a duration (250ms, 5s, 2m, 1h)";
      default:
        return "a whole number";
    }
  }

  // The YAML spellings of an enum: value names without the enum's prefix, in lower case.
  static std::string EnumPrefix(const pb::EnumDescriptor* e) {
    const std::string& zero = e->value(0)->name();  // FOO_UNSPECIFIED, by convention
    const size_t cut = zero.rfind("UNSPECIFIED");
    return cut == std::string::npos ? std::string() : zero.substr(0, cut);
  }
  static std::vector<std::string> EnumNames(const pb::EnumDescriptor* e) {
    const std::string prefix = EnumPrefix(e);
    std::vector<std::string> names;
    for (int i = 1; i < e->value_count(); ++i) {
      names.push_back(absl::AsciiStrToLower(e->value(i)->name().substr(prefix.size())));
    }
    return names;
  }

  void SetScalar(pb::Message& msg, const FieldDescriptor* field, absl::string_view text,
                 bool quoted, const Mark& m, const std::string& path) {
    const pb::Reflection* refl = msg.GetReflection();
    const bool rep = field->is_repeated();
    auto bad = [&](absl::string_view why) {
      Report(Code::kBadValue, m, path, absl::StrCat("'", text, "' ", why));
    };
    auto wrong_quoted = [&]() {
      Report(Code::kWrongType, m, path,
             absl::StrCat("expected ", TypeName(field), ", got the quoted string \"", text,
                          "\" (remove the quotes)"));
    };

    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        // A protobuf string is UTF-8 (the file is, but yaml-cpp 0.7 decoded the escapes \N and
        // \_ to lone bytes, found by tests/fuzz/config_fuzz: kept as a guard), and the escape
        // "\0" makes a NUL, which no name or path holds.
        if (const size_t at = FirstNonTextByte(text); at != absl::string_view::npos) {
          return bad(text[at] == '\0' ? "holds a NUL character" : "is not UTF-8 text");
        }
        rep ? refl->AddString(&msg, field, std::string(text))
            : refl->SetString(&msg, field, std::string(text));
        return;
      case FieldDescriptor::CPPTYPE_BOOL: {
        if (quoted) return wrong_quoted();
        const std::string t = absl::AsciiStrToLower(text);
        if (t != "true" && t != "false") return bad("is not true or false");
        rep ? refl->AddBool(&msg, field, t == "true") : refl->SetBool(&msg, field, t == "true");
        return;
      }
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64: {
        if (quoted) return wrong_quoted();
        int64_t v = 0;
        uint64_t u = 0;
        const bool is_unsigned = field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32 ||
                                 field->cpp_type() == FieldDescriptor::CPPTYPE_UINT64;
        if (is_unsigned) {
          if (!text.empty() && text[0] == '-') return bad("must not be negative");
          if (!absl::SimpleAtoi(text, &u)) return bad("is not a whole number");
          const uint64_t max = field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32
                                   ? std::numeric_limits<uint32_t>::max()
                                   : std::numeric_limits<uint64_t>::max();
          if (u > max) return bad(absl::StrCat("is larger than ", max));
        } else {
          if (!absl::SimpleAtoi(text, &v)) return bad("is not a whole number");
          if (field->cpp_type() == FieldDescriptor::CPPTYPE_INT32 &&
              (v < std::numeric_limits<int32_t>::min() ||
               v > std::numeric_limits<int32_t>::max())) {
            return bad("is out of range");
          }
        }
        switch (field->cpp_type()) {
          case FieldDescriptor::CPPTYPE_UINT32:
            rep ? refl->AddUInt32(&msg, field, static_cast<uint32_t>(u))
                : refl->SetUInt32(&msg, field, static_cast<uint32_t>(u));
            break;
          case FieldDescriptor::CPPTYPE_UINT64:
            rep ? refl->AddUInt64(&msg, field, u) : refl->SetUInt64(&msg, field, u);
            break;
          case FieldDescriptor::CPPTYPE_INT32:
            rep ? refl->AddInt32(&msg, field, static_cast<int32_t>(v))
                : refl->SetInt32(&msg, field, static_cast<int32_t>(v));
            break;
          default:
            rep ? refl->AddInt64(&msg, field, v) : refl->SetInt64(&msg, field, v);
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        if (quoted) return wrong_quoted();
        double d = 0;
        if (!absl::SimpleAtod(text, &d) || !std::isfinite(d)) return bad("is not a number");
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          rep ? refl->AddDouble(&msg, field, d) : refl->SetDouble(&msg, field, d);
        } else {
          rep ? refl->AddFloat(&msg, field, static_cast<float>(d))
              : refl->SetFloat(&msg, field, static_cast<float>(d));
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const pb::EnumDescriptor* e = field->enum_type();
        const pb::EnumValueDescriptor* value = nullptr;
        if (!text.empty() && absl::AsciiStrToLower(text) == text) {
          value = e->FindValueByName(absl::StrCat(EnumPrefix(e), absl::AsciiStrToUpper(text)));
        }
        if (value == nullptr || value->number() == 0) {
          return bad(absl::StrCat("is not one of ", absl::StrJoin(EnumNames(e), ", ")));
        }
        rep ? refl->AddEnum(&msg, field, value) : refl->SetEnum(&msg, field, value);
        return;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {  // google.protobuf.Duration
        absl::Duration d;
        const bool has_unit =
            !text.empty() && absl::ascii_isalpha(static_cast<unsigned char>(text.back()));
        if (!has_unit || text[0] == '-' || text[0] == '+' || !absl::ParseDuration(text, &d) ||
            d == absl::InfiniteDuration()) {
          return bad("is not a duration: write a number and a unit (250ms, 5s, 2m, 1h)");
        }
        auto* out = static_cast<pb::Duration*>(rep ? refl->AddMessage(&msg, field)
                                                   : refl->MutableMessage(&msg, field));
        *out = ToProtoDuration(d);
        return;
      }
    }
  }

  friend std::vector<std::string> holdfast::policy::SchemaProblems();

  const LoadOptions& options_;
  pb::Message& root_;
  std::string top_level_keys_;
  bool follow_includes_ = false;
  LoadedYaml out_;
  std::vector<Part> parts_;
  std::vector<std::unique_ptr<yaml::Tree>> trees_;
  absl::flat_hash_set<std::string> seen_files_;
  size_t values_ = 0;
  bool over_budget_ = false;
};

}  // namespace

std::vector<std::string> SchemaProblems() {
  std::vector<std::string> problems;
  LoadOptions options;
  v1::Config scratch_root;
  Loader loader(options, scratch_root);
  loader.out_.sources.AddFile("<schema>");
  std::vector<const pb::Descriptor*> todo = {v1::Config::descriptor()};
  absl::flat_hash_set<const pb::Descriptor*> seen;
  while (!todo.empty()) {
    const pb::Descriptor* desc = todo.back();
    todo.pop_back();
    if (!seen.insert(desc).second) continue;
    for (int i = 0; i < desc->field_count(); ++i) {
      const FieldDescriptor* field = desc->field(i);
      const std::string name = field->full_name();
      const std::string& def = field->options().GetExtension(v1::default_value);
      const bool message = Loader::IsPlainMessage(field);
      if (message) todo.push_back(field->message_type());
      if (!def.empty() && field->options().GetExtension(v1::required)) {
        problems.push_back(absl::StrCat(name, ": both required and defaulted"));
      }
      if (def.empty()) continue;
      if (message || def == "{}") {
        if (!message || def != "{}") {
          problems.push_back(
              absl::StrCat(name, ": default \"", def, "\" (a message field takes only \"{}\")"));
        }
        continue;
      }
      std::unique_ptr<pb::Message> scratch(
          pb::MessageFactory::generated_factory()->GetPrototype(desc)->New());
      const size_t before = loader.out_.findings.size();
      loader.SetScalar(*scratch, field, def, /*quoted=*/false, Mark{}, name);
      if (loader.out_.findings.size() != before) {
        problems.push_back(loader.out_.findings.back().message);
      }
    }
  }
  return problems;
}

LoadedYaml LoadYaml(const std::vector<std::string>& paths, google::protobuf::Message& root,
                    const LoadOptions& options) {
  return Loader(options, root).Run(paths);
}

LoadedConfig LoadConfig(const std::vector<std::string>& paths, const LoadOptions& options) {
  LoadedConfig out;
  LoadedYaml yaml = LoadYaml(paths, out.config, options);
  out.sources = std::move(yaml.sources);
  out.findings = std::move(yaml.findings);
  return out;
}

}  // namespace holdfast::policy
