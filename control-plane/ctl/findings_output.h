// How holdfastctl prints findings: as a compiler does (text), as one JSON object, or as GitHub
// workflow annotations.
#ifndef HOLDFAST_CONTROL_PLANE_CTL_FINDINGS_OUTPUT_H_
#define HOLDFAST_CONTROL_PLANE_CTL_FINDINGS_OUTPUT_H_

#include <string>
#include <vector>

#include "policy/finding.h"

namespace holdfast::ctl {

// "FILE:LINE:COL: error: MESSAGE [HF1234]", one line each.
std::string FormatText(const std::vector<policy::Finding>& findings);

// {"valid": B, "errors": N, "warnings": N, "files": [...], "findings": [{"file", "line",
// "column", "severity", "code", "message"}]}, on one line.
std::string FormatJson(const std::vector<policy::Finding>& findings,
                       const std::vector<std::string>& files, bool valid);

// "::error file=F,line=L,col=C,title=HF1234::MESSAGE", one line each, escaped as the workflow
// command syntax requires.
std::string FormatGithub(const std::vector<policy::Finding>& findings);

}  // namespace holdfast::ctl

#endif  // HOLDFAST_CONTROL_PLANE_CTL_FINDINGS_OUTPUT_H_
