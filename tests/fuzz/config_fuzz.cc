// Fuzzes the config loader and validator with one YAML file: the input is fuzz/holdfast.yaml,
// and it may include fuzz/included.yaml (a fixed second file) or fuzz/again.yaml (the input
// once more, so that two files set the same values); every other file is missing. Nothing
// touches the file system, the clock or the network: certificate files are not inspected.
//
// Beyond "no crash, no hang, no leak", it checks what every caller relies on:
//  - every finding is at line >= 1 and column >= 1 of a file that was loaded or named, has the
//    severity of its code, and a message that is valid UTF-8 (the input is: a message that is
//    not cut a character apart, or quotes a NUL from a "\0" escape);
//  - findings come sorted by file (in load order), line and column;
//  - a result without errors is a config that serializes and parses back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "holdfast/v1/config.pb.h"
#include "policy/config/loader.h"
#include "policy/finding.h"
#include "policy/validate/validator.h"

namespace holdfast::policy {
namespace {

constexpr const char* kMainFile = "fuzz/holdfast.yaml";
constexpr const char* kIncludedFile = "fuzz/included.yaml";
constexpr const char* kAgainFile = "fuzz/again.yaml";

// A small valid piece of config with a POP and a prefix, which the input can refer to.
constexpr const char* kIncludedText = R"(prefixes:
  - name: inc-v4
    cidr: 203.0.113.0/24
pops:
  - name: inc
    region: inc-region
    nodes:
      - {name: inc-1, addresses: [198.51.100.1]}
    bgp:
      local_asn: 64500
      peers: [{address: 198.51.100.254, asn: 64501}]
    announce:
      - {prefix: inc-v4, vips: [203.0.113.1]}
)";

// True when `s` is UTF-8 (RFC 3629): no overlong forms, surrogates or code points past U+10FFFF.
bool IsUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 1;
    uint32_t cp = c;
    uint32_t min = 0;
    if (c >= 0x80) {
      if ((c & 0xe0) == 0xc0) {
        len = 2;
        cp = c & 0x1fu;
        min = 0x80;
      } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        cp = c & 0x0fu;
        min = 0x800;
      } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        cp = c & 0x07u;
        min = 0x10000;
      } else {
        return false;
      }
      if (i + len > s.size()) return false;
      for (size_t k = 1; k < len; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xc0) != 0x80) return false;
        cp = (cp << 6) | (cc & 0x3fu);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    }
    i += len;
  }
  return true;
}

// An invariant the code under test broke: print it and abort, so the fuzzer keeps the input.
[[noreturn]] void Broken(const std::string& what, const std::string& input) {
  std::cerr << "config_fuzz: invariant broken: " << what << "\ninput (" << input.size()
            << " bytes):\n"
            << input << "\n";
  std::abort();
}

void CheckFindings(const LoadedConfig& loaded, const std::string& input) {
  const std::vector<std::string>& files = loaded.sources.files();
  auto rank = [&](const Finding& f) {
    int order = -1;  // files that were never loaded come first
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i] == f.where.file) {
        order = static_cast<int>(i);
        break;
      }
    }
    return std::make_tuple(order, f.where.line, f.where.column);
  };
  const Finding* previous = nullptr;
  for (const Finding& f : loaded.findings) {
    const std::string where =
        absl::StrCat(f.where.file, ":", f.where.line, ":", f.where.column, ": ", f.message);
    if (f.where.line < 1 || f.where.column < 1) Broken("position below 1:1: " + where, input);
    bool known_file = f.where.file == kMainFile;
    for (const std::string& file : files) known_file = known_file || file == f.where.file;
    if (!known_file) Broken("finding in a file neither loaded nor named: " + where, input);
    if (f.severity != Info(f.code).severity) Broken("severity unlike its code's: " + where, input);
    if (f.message.empty()) Broken("finding without a message: " + where, input);
    if (!IsUtf8(f.message)) Broken("message is not UTF-8: " + where, input);
    if (previous != nullptr && rank(f) < rank(*previous)) Broken("findings out of order", input);
    previous = &f;
  }
}

void CheckConfig(const LoadedConfig& loaded, const std::string& input) {
  if (HasErrors(loaded.findings)) return;
  if (loaded.sources.files().empty()) Broken("no errors, yet no file was loaded", input);
  std::string wire;
  if (!loaded.config.SerializeToString(&wire)) Broken("valid config does not serialize", input);
  v1::Config back;
  if (!back.ParseFromString(wire)) {
    Broken("valid config does not parse back (invalid UTF-8 in a string?)", input);
  }
  std::string again;
  if (!back.SerializeToString(&again) || again != wire) {
    Broken("valid config changes on a round trip", input);
  }
}

}  // namespace
}  // namespace holdfast::policy

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using holdfast::policy::kAgainFile;
  using holdfast::policy::kIncludedFile;
  using holdfast::policy::kIncludedText;
  using holdfast::policy::kMainFile;
  const std::string input(reinterpret_cast<const char*>(data), size);

  holdfast::policy::LoadOptions load;
  load.read_file = [&input](const std::string& path) -> absl::StatusOr<std::string> {
    // Includes are relative to the including file: "fuzz/./x/../included.yaml" is included.yaml.
    const std::string name = std::filesystem::path(path).lexically_normal().string();
    if (name == kMainFile || name == kAgainFile) return input;
    if (name == kIncludedFile) return std::string(kIncludedText);
    return absl::NotFoundError("no such file");
  };
  holdfast::policy::ValidateOptions validate;
  validate.now = absl::FromUnixSeconds(1'800'000'000);  // fixed: the same run every time

  const holdfast::policy::LoadedConfig loaded =
      holdfast::policy::LoadAndValidate({kMainFile}, load, validate);
  holdfast::policy::CheckFindings(loaded, input);
  holdfast::policy::CheckConfig(loaded, input);
  return 0;
}
