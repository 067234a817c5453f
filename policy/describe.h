// A human summary of what a config describes: POPs by region, prefixes and who may announce
// them, service names, and the safety floors. `deploy/lab/up` and `holdfastctl describe` print it.
#ifndef HOLDFAST_POLICY_DESCRIBE_H_
#define HOLDFAST_POLICY_DESCRIBE_H_

#include <string>

#include "holdfast/v1/config.pb.h"

namespace holdfast::policy {

// Plain text, several lines, ending in a newline. Expects a config that validated.
std::string DescribeConfig(const v1::Config& config);

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_DESCRIBE_H_
