#include "control-plane/ctl/plan_output.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace holdfast::ctl {
namespace {

std::string StateName(v1::Plan::State s) {
  switch (s) {
    case v1::Plan::ANNOUNCED:
      return "ANNOUNCED";
    case v1::Plan::DRAINING:
      return "DRAINING";
    case v1::Plan::WITHDRAWN:
      return "WITHDRAWN";
    default:
      return "?";
  }
}

}  // namespace

std::string FormatPlanText(const v1::Plan& plan) {
  std::string out;
  for (const auto& pp : plan.prefixes()) {
    absl::StrAppendFormat(&out, "prefix %s: %d announcing, floor %d\n", pp.prefix(),
                          pp.announcing(), pp.floor());
    for (const auto& d : pp.pops()) {
      absl::StrAppendFormat(
          &out, "  %-10s %-10s %s%s\n", d.pop(), StateName(d.state()),
          d.depreferred() ? absl::StrCat("(prepend ", d.as_path_prepend(), ") ") : "", d.reason());
    }
  }
  for (const auto& sp : plan.services()) {
    absl::StrAppendFormat(&out, "service %s: floor %d\n", sp.name(), sp.floor());
    if (sp.answers().empty()) out += "  no answer\n";
    for (const auto& a : sp.answers()) {
      absl::StrAppendFormat(&out, "  %-10s %-20s weight %-5d %s\n", a.pop(), a.address(),
                            a.weight(), a.reason());
    }
  }
  if (!plan.alarms().empty()) out += "alarms\n";
  for (const auto& a : plan.alarms())
    absl::StrAppend(&out, "  ", a.kind(), ": ", a.message(), "\n");
  if (!plan.intents().empty()) out += "intents\n";
  for (const auto& i : plan.intents()) {
    const std::string action = absl::AsciiStrToLower(
        v1::OperatorIntent::Action_Name(i.intent().action()).substr(sizeof("ACTION_") - 1));
    absl::StrAppend(&out, "  ", action, " ", i.intent().pop(),
                    i.intent().prefix().empty() ? "" : absl::StrCat(" ", i.intent().prefix()), ": ",
                    i.explanation(), "\n");
  }
  return out;
}

}  // namespace holdfast::ctl
