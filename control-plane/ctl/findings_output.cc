#include "control-plane/ctl/findings_output.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace holdfast::ctl {

using policy::Finding;
using policy::Info;
using policy::SeverityName;

std::string FormatText(const std::vector<Finding>& findings) {
  std::string out;
  for (const Finding& f : findings) {
    absl::StrAppend(&out, f.where.file, ":", f.where.line, ":", f.where.column, ": ",
                    SeverityName(f.severity), ": ", f.message, " [", Info(f.code).id, "]\n");
  }
  return out;
}

std::string FormatJson(const std::vector<Finding>& findings, const std::vector<std::string>& files,
                       bool valid) {
  nlohmann::json list = nlohmann::json::array();
  int errors = 0;
  int warnings = 0;
  for (const Finding& f : findings) {
    (f.severity == policy::Severity::kError ? errors : warnings)++;
    list.push_back({{"file", f.where.file},
                    {"line", f.where.line},
                    {"column", f.where.column},
                    {"severity", SeverityName(f.severity)},
                    {"code", Info(f.code).id},
                    {"message", f.message}});
  }
  const nlohmann::json doc = {{"valid", valid},
                              {"errors", errors},
                              {"warnings", warnings},
                              {"files", files},
                              {"findings", list}};
  // Replace invalid UTF-8 (a message may quote bytes of a broken file) instead of throwing.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {

// GitHub workflow commands: data escapes %, CR and LF; properties also ':' and ','.
std::string EscapeData(absl::string_view s) {
  return absl::StrReplaceAll(s, {{"%", "%25"}, {"\r", "%0D"}, {"\n", "%0A"}});
}
std::string EscapeProperty(absl::string_view s) {
  return absl::StrReplaceAll(EscapeData(s), {{":", "%3A"}, {",", "%2C"}});
}

}  // namespace

std::string FormatGithub(const std::vector<Finding>& findings) {
  std::string out;
  for (const Finding& f : findings) {
    absl::StrAppend(&out, "::", SeverityName(f.severity), " file=", EscapeProperty(f.where.file),
                    ",line=", f.where.line, ",col=", f.where.column, ",title=", Info(f.code).id,
                    "::", EscapeData(f.message), "\n");
  }
  return out;
}

}  // namespace holdfast::ctl
