#include "policy/finding.h"

#include <algorithm>

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

}  // namespace holdfast::policy
