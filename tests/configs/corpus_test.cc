// The corpus of broken configs, and the configs and docs that must stay clean.
//
// Every tests/configs/bad/*.yaml holds one mistake and declares, in comment lines at its top,
// exactly the findings `holdfastctl validate --no-files` reports for it:
//
//   # expect: 12:7 HF2002 error no cluster named 'wbe'
//   # expect: include/other.yaml:3:5 HF1011 error set again in another file
//
// LINE:COL is in the file itself unless a path (relative to the file's directory) comes first;
// the last field is a substring of the message. Paths inside messages are compared relative to
// bad/ as well, so "(first defined at hf2001_x.yaml:10:11)" matches wherever the tree is. A file
// passes when its findings and its expect lines pair up one to one. Files that cannot carry a
// comment (binary, empty, missing, a directory) are made here instead.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/tls/certificate_facts.h"
#include "policy/config/loader.h"
#include "policy/finding.h"
#include "policy/validate/validator.h"
#include "tests/support/temp_dir.h"

namespace holdfast::policy {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = HF_SOURCE_DIR;

fs::path BadDir() { return kSourceDir / "tests" / "configs" / "bad"; }

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteBytes(const fs::path& path, absl::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Options of `holdfastctl validate --no-files`, with the clock fixed.
ValidateOptions NoFiles() {
  ValidateOptions options;
  options.now = absl::FromCivil(absl::CivilSecond(2026, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  return options;
}

const CodeInfo* FindCode(absl::string_view id) {
  for (const CodeInfo& info : AllCodes()) {
    if (info.id == id) return &info;
  }
  return nullptr;
}

// ---- expect lines -------------------------------------------------------------------------

struct Expected {
  std::string file;  // lexically normal path
  int line = 0;
  int column = 0;
  std::string code;  // "HF2002"
  std::string severity;
  std::string message;  // a substring of the finding's message
  std::string text;     // the line as written
};

// Parses the `# expect:` lines of the comment block a corpus file starts with. Malformed
// expect lines go to `errors`.
std::vector<Expected> ParseExpectations(const fs::path& file, std::vector<std::string>& errors) {
  constexpr absl::string_view kPrefix = "# expect:";
  std::vector<Expected> out;
  const std::string text = ReadText(file);
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (!absl::StartsWith(line, "#")) break;  // the header ends where the YAML starts
    if (!absl::StartsWith(line, kPrefix)) {
      if (absl::StrContains(absl::AsciiStrToLower(line), "expect")) {
        errors.push_back(
            absl::StrCat("line ", number, ": not '# expect: ...' but close to it: ", line));
      }
      continue;
    }
    auto bad = [&](absl::string_view why) {
      errors.push_back(absl::StrCat("line ", number, ": ", why, ": ", line));
    };
    // LOCATION CODE SEVERITY MESSAGE
    const std::vector<std::string> parts = absl::StrSplit(
        absl::StripAsciiWhitespace(line.substr(kPrefix.size())), absl::MaxSplits(' ', 3));
    if (parts.size() != 4 || parts[3].empty()) {
      bad("want '# expect: [FILE:]LINE:COL CODE SEVERITY MESSAGE'");
      continue;
    }
    Expected e;
    e.text = std::string(line);
    // [FILE:]LINE:COL: the last two fields are numbers, whatever comes before them a path.
    const std::vector<std::string> loc = absl::StrSplit(parts[0], ':');
    if (loc.size() < 2 || !absl::SimpleAtoi(loc[loc.size() - 2], &e.line) ||
        !absl::SimpleAtoi(loc.back(), &e.column) || e.line < 1 || e.column < 1) {
      bad("the location is not [FILE:]LINE:COL");
      continue;
    }
    const std::string other = absl::StrJoin(loc.begin(), loc.end() - 2, ":");
    e.file = (other.empty() ? file : file.parent_path() / other).lexically_normal().string();
    e.code = parts[1];
    e.severity = parts[2];
    e.message = parts[3];
    const CodeInfo* info = FindCode(e.code);
    if (info == nullptr) {
      bad(absl::StrCat("no code ", e.code, " in policy/finding.h"));
      continue;
    }
    if (e.severity != SeverityName(info->severity)) {
      bad(absl::StrCat(e.code, " is ", SeverityName(info->severity), ", not ", e.severity));
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

// ---- comparing findings -------------------------------------------------------------------

struct Actual {
  std::string file;
  int line;
  int column;
  std::string code;
  std::string severity;
  std::string message;
};

// The findings with normal paths, and paths under bad/ written relative to it in messages.
std::vector<Actual> Normalize(const std::vector<Finding>& findings) {
  const std::string bad_dir = BadDir().lexically_normal().string() + "/";
  std::vector<Actual> out;
  for (const Finding& f : findings) {
    out.push_back(Actual{fs::path(f.where.file).lexically_normal().string(), f.where.line,
                         f.where.column, std::string(Info(f.code).id),
                         std::string(SeverityName(f.severity)),
                         absl::StrReplaceAll(f.message, {{bad_dir, ""}})});
  }
  return out;
}

// `path` relative to the directory of `file` when it is below it, as expect lines name it.
std::string Relative(const std::string& path, const fs::path& file) {
  const fs::path rel = fs::path(path).lexically_relative(file.parent_path());
  return rel.empty() || absl::StartsWith(rel.string(), "..") ? path : rel.string();
}

// An actual finding as the expect line that would declare it.
std::string AsExpectLine(const Actual& a, const fs::path& file) {
  const std::string where =
      a.file == file.lexically_normal().string() ? "" : Relative(a.file, file) + ":";
  return absl::StrCat("# expect: ", where, a.line, ":", a.column, " ", a.code, " ", a.severity, " ",
                      a.message);
}

// Pairs each expectation with a finding; returns a report of what did not pair, or "".
std::string Compare(const fs::path& file, const std::vector<Expected>& expected,
                    const std::vector<Actual>& actual) {
  std::vector<bool> used(actual.size(), false);
  std::vector<const Expected*> missing;
  for (const Expected& e : expected) {
    bool found = false;
    for (size_t i = 0; i < actual.size() && !found; ++i) {
      const Actual& a = actual[i];
      if (!used[i] && a.file == e.file && a.line == e.line && a.column == e.column &&
          a.code == e.code && a.severity == e.severity && absl::StrContains(a.message, e.message)) {
        used[i] = found = true;
      }
    }
    if (!found) missing.push_back(&e);
  }
  std::vector<const Actual*> unexpected;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!used[i]) unexpected.push_back(&actual[i]);
  }
  if (missing.empty() && unexpected.empty()) return "";

  std::string report =
      absl::StrCat(file.filename().string(), ": the findings differ from the expect lines\n");
  for (const Expected* e : missing) absl::StrAppend(&report, "  - not reported: ", e->text, "\n");
  for (const Actual* a : unexpected) {
    absl::StrAppend(&report, "  + not expected: ", AsExpectLine(*a, file), "\n");
  }
  absl::StrAppend(&report, "  all findings reported, as expect lines:\n");
  for (const Actual& a : actual) absl::StrAppend(&report, "    ", AsExpectLine(a, file), "\n");
  return report;
}

std::vector<std::string> BadConfigNames() {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(BadDir())) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("each broken config reports exactly the findings it declares", "[configs]") {
  const std::string name = GENERATE(from_range(BadConfigNames()));
  const fs::path file = BadDir() / name;
  INFO("corpus file: tests/configs/bad/" << name);

  std::vector<std::string> errors;
  const std::vector<Expected> expected = ParseExpectations(file, errors);
  if (!errors.empty()) FAIL_CHECK(name << ": bad expect lines:\n" << absl::StrJoin(errors, "\n"));
  if (expected.empty()) {
    FAIL_CHECK(name << ": declares no '# expect:' line; a corpus file holds one mistake");
  }

  const LoadedConfig loaded = LoadAndValidate({file.string()}, {}, NoFiles());
  const std::string report = Compare(file, expected, Normalize(loaded.findings));
  if (!report.empty()) FAIL_CHECK(report);
}

TEST_CASE("the corpus has a file for every code a config file can produce", "[configs]") {
  std::set<std::string> declared;
  for (const std::string& name : BadConfigNames()) {
    std::vector<std::string> errors;
    for (const Expected& e : ParseExpectations(BadDir() / name, errors)) declared.insert(e.code);
  }
  for (const CodeInfo& info : AllCodes()) {
    // HF1004 needs bytes no comment can declare: the test below makes those files. HF3xxx
    // needs certificate files and a clock: tests/unit/policy covers them. HF6xxx come from
    // validate --what-if only: tests/unit/policy/plan and tests/integration cover them.
    if (info.id == "HF1004" || absl::StartsWith(info.id, "HF3") ||
        absl::StartsWith(info.id, "HF6")) {
      continue;
    }
    CAPTURE(info.id);
    CHECK(declared.contains(std::string(info.id)));
  }
}

// ---- files that cannot carry an expect line -----------------------------------------------

struct OddFile {
  std::string description;
  std::string bytes;  // written to config.yaml, unless `kind` says otherwise
  // "file"; "missing"; "directory"; "include-binary" (`bytes` includes a binary file);
  // "sparse" (a file larger than the loader's limit, without writing it).
  std::string kind;
  std::string finding_file;  // the file the finding is in, relative to the scratch directory
  std::string code;          // "" for no finding at all
  std::string message;       // a substring of it
};

TEST_CASE("files at the edges of YAML text: binary, empty, missing, too large", "[configs]") {
  using namespace std::string_literals;
  const OddFile odd = GENERATE(values<OddFile>({
      {"a missing file", "", "missing", "config.yaml", "HF1001",
       "cannot read config: no such file"},
      {"a directory", "", "directory", "config.yaml", "HF1001", "is a directory"},
      {"a file of zero bytes", "", "file", "config.yaml", "HF1003", "empty config file"},
      {"a file of blank lines", "\n  \n\t\n", "file", "config.yaml", "HF1003", "empty config file"},
      {"a NUL byte", "pops: []\n\0\0\0\0"s, "file", "config.yaml", "HF1004", "byte 9 is not UTF-8"},
      {"Latin-1, not UTF-8", "# caf\xe9\npops: []\n", "file", "config.yaml", "HF1004", "byte 5"},
      {"an overlong UTF-8 form", "# \xc0\xaf\npops: []\n", "file", "config.yaml", "HF1004",
       "byte 2"},
      {"a UTF-16 surrogate encoded as UTF-8", "# \xed\xa0\x80\npops: []\n", "file", "config.yaml",
       "HF1004", "byte 2"},
      {"a UTF-8 sequence cut short at the end", "pops: []\n# \xe2\x82", "file", "config.yaml",
       "HF1004", "byte 11"},
      {"an included binary file", "include: [blob.bin]\n", "include-binary", "blob.bin", "HF1004",
       "byte 1 is not UTF-8"},
      {"a file over the size limit", "", "sparse", "config.yaml", "HF1012", "larger than"},
      {"a stray document separator after the config is fine", "pops: []\n---\n# end\n", "file",
       "config.yaml", "", ""},
      {"document markers around the config are fine", "---\npops: []\n...\n", "file", "config.yaml",
       "", ""},
      {"separators and nothing else", "---\n---\n", "file", "config.yaml", "HF1003",
       "empty config file"},
      {"UTF-8 text beyond ASCII is fine", "# caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80\npops: []\n",
       "file", "config.yaml", "", ""},
  }));
  INFO(odd.description);

  testing::TempDir dir;
  const fs::path config = dir.path() / "config.yaml";
  if (odd.kind == "file") {
    WriteBytes(config, odd.bytes);
  } else if (odd.kind == "directory") {
    fs::create_directory(config);
  } else if (odd.kind == "include-binary") {
    WriteBytes(config, odd.bytes);
    WriteBytes(dir.path() / "blob.bin", "\x7f\0ELF"s);
  } else if (odd.kind == "sparse") {
    WriteBytes(config, "");
    fs::resize_file(config, kMaxFileBytes + 1);
  }

  const LoadedConfig loaded = LoadAndValidate({config.string()}, {}, NoFiles());
  std::vector<std::string> lines;
  for (const Finding& f : loaded.findings) {
    lines.push_back(absl::StrCat(f.where.file, ":", f.where.line, ":", f.where.column, ": ",
                                 Info(f.code).id, " ", f.message));
  }
  INFO("findings:\n" << absl::StrJoin(lines, "\n"));
  if (odd.code.empty()) {
    CHECK(loaded.findings.empty());
    return;
  }
  REQUIRE(loaded.findings.size() == 1);
  const Finding& f = loaded.findings[0];
  CHECK(Info(f.code).id == odd.code);
  CHECK(f.where.file == (dir.path() / odd.finding_file).string());
  CHECK(f.where.line == 1);
  CHECK(f.where.column == 1);
  CHECK_THAT(f.message, Catch::Matchers::Contains(odd.message));
}

TEST_CASE("a config read through LoadOptions::read_file is held to the size limit", "[configs]") {
  LoadOptions load;
  load.read_file = [](const std::string&) -> absl::StatusOr<std::string> {
    return std::string(kMaxFileBytes + 1, '#');
  };
  const LoadedConfig loaded = LoadAndValidate({"memory.yaml"}, load, NoFiles());
  REQUIRE(loaded.findings.size() == 1);
  CHECK(Info(loaded.findings[0].code).id == "HF1012");
  CHECK(loaded.findings[0].where.file == "memory.yaml");
}

// ---- what must stay clean -----------------------------------------------------------------

TEST_CASE("the example config is valid, certificates and all", "[configs]") {
  ValidateOptions options;
  options.now = absl::Now();
  options.inspect_tls = tls::InspectCertificatePair;
  const fs::path example = kSourceDir / "deploy" / "examples" / "holdfast.yaml";
  const LoadedConfig loaded = LoadAndValidate({example.string()}, {}, options);
  std::vector<std::string> lines;
  for (const Finding& f : loaded.findings) {
    lines.push_back(absl::StrCat(f.where.file, ":", f.where.line, ":", f.where.column, ": ",
                                 SeverityName(f.severity), ": ", f.message, " [", Info(f.code).id,
                                 "]"));
  }
  INFO(absl::StrJoin(lines, "\n"));
  CHECK(loaded.findings.empty());
  CHECK(loaded.sources.files().size() == 3);  // holdfast.yaml, pops.yaml, dns.yaml
}

// docs/findings.md documents each code in one table row, `| HFnnnn | severity | ... |`, in the
// order of policy/finding.h. A retired code keeps its row with the severity `retired`.
TEST_CASE("docs/findings.md documents every code with its severity", "[configs][docs]") {
  const fs::path doc = kSourceDir / "docs" / "findings.md";
  REQUIRE(fs::exists(doc));
  struct Row {
    std::string code;
    std::string severity;
    int line;
  };
  std::vector<Row> rows;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(ReadText(doc), '\n')) {
    ++number;
    if (!absl::StartsWith(line, "| HF")) continue;
    const std::vector<std::string> cells = absl::StrSplit(line, '|');
    REQUIRE(cells.size() >= 4);
    rows.push_back(Row{std::string(absl::StripAsciiWhitespace(cells[1])),
                       std::string(absl::StripAsciiWhitespace(cells[2])), number});
  }

  std::vector<std::string> documented;  // live codes, in the doc's order
  std::set<std::string> seen;
  for (const Row& row : rows) {
    INFO("docs/findings.md:" << row.line << ": " << row.code);
    CHECK(seen.insert(row.code).second);  // one row per code
    const CodeInfo* info = FindCode(row.code);
    if (row.severity == "retired") {
      CHECK(info == nullptr);  // a retired code is gone from policy/finding.h
      continue;
    }
    if (info == nullptr) {
      FAIL_CHECK("the doc lists " << row.code << ", which policy/finding.h does not have");
      continue;
    }
    CHECK(row.severity == SeverityName(info->severity));
    documented.push_back(row.code);
  }
  std::vector<std::string> table;
  for (const CodeInfo& info : AllCodes()) {
    table.emplace_back(info.id);
    if (std::find(documented.begin(), documented.end(), info.id) == documented.end()) {
      FAIL_CHECK("policy/finding.h has " << info.id << ", which the doc does not list");
    }
  }
  INFO("the doc lists the codes in the order of policy/finding.h");
  CHECK(absl::StrJoin(documented, " ") == absl::StrJoin(table, " "));
}

}  // namespace
}  // namespace holdfast::policy
