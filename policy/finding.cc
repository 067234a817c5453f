#include "policy/finding.h"

#include <algorithm>

#include "common/cat.h"

namespace holdfast::policy {

const std::vector<CodeInfo>& AllCodes() {
  static const std::vector<CodeInfo>* const kCodes = new std::vector<CodeInfo>{
#define HF_FINDING_INFO_(name, id, severity, summary) \
  CodeInfo{Code::name, id, Severity::severity, summary},
      HF_FINDING_CODES(HF_FINDING_INFO_)
#undef HF_FINDING_INFO_
  };
  return *kCodes;
}

const CodeInfo& Info(Code code) { return AllCodes()[static_cast<size_t>(code)]; }

absl::string_view SeverityName(Severity s) { return s == Severity::kError ? "error" : "warning"; }

bool HasErrors(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Severity::kError; });
}

std::string SummarizeErrors(const std::vector<Finding>& findings, int max) {
  std::string lines;
  int shown = 0;
  int errors = 0;
  for (const Finding& f : findings) {
    if (f.severity != Severity::kError) continue;
    ++errors;
    if (shown++ < max) {
      Append(lines, shown == 1 ? " " : "; ", f.where.file, ":", f.where.line, ":", f.where.column,
             ": ", f.message, " [", std::string(Info(f.code).id), "]");
    }
  }
  if (errors > max) Append(lines, "; and ", errors - max, " more");
  return Cat("the config does not validate (", errors, " error", errors == 1 ? "" : "s",
             "):", lines);
}

}  // namespace holdfast::policy
