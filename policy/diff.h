// What changes between two configs, for people: one line per thing that is added ("+"),
// removed ("-") or changed ("~"), by kind and name, in the config's order. `holdfastctl plan`
// prints it before an apply. Pure.
#ifndef HOLDFAST_POLICY_DIFF_H_
#define HOLDFAST_POLICY_DIFF_H_

#include <string>
#include <vector>

#include "holdfast/v1/config.pb.h"

namespace holdfast::policy {

// Lines such as "+ cluster api", "~ route web", "- pop ams", "~ routes: order" (routes match
// first-to-last, so their order is a change of its own), "~ safety". Empty when nothing changes.
std::vector<std::string> DiffConfigs(const v1::Config& from, const v1::Config& to);

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_DIFF_H_
