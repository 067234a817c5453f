// Config bundles (holdfast.v1.ConfigBundle): the files of one config, as holdfastctl uploads
// them, the control plane stores and validates them, and edges unpack them.
//
// Paths in a bundle are relative to the top-level file's directory, with "/" separators, and
// never leave it: no absolute path, no "..", no empty or "." component. The rule is here once;
// every side that reads or writes bundles checks it.
#ifndef HOLDFAST_POLICY_BUNDLE_H_
#define HOLDFAST_POLICY_BUNDLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "holdfast/v1/bundle.pb.h"
#include "policy/config/loader.h"
#include "policy/validate/validator.h"

namespace holdfast::policy {

// OK when every path in `bundle` follows the rule above and names one file once; the first file
// is the top-level one. InvalidArgument naming the path otherwise.
[[nodiscard]] absl::Status CheckBundle(const v1::ConfigBundle& bundle);

// The bundle of a config already loaded from disk: `files` in load order (LoadedConfig's
// sources.files(), the top-level file first), read again. InvalidArgument when an included file
// lies outside the top-level file's directory.
[[nodiscard]] absl::StatusOr<v1::ConfigBundle> MakeBundle(const std::vector<std::string>& files);

// Loads and validates `bundle` as LoadAndValidate does files, reading from the bundle itself.
// The bundle must have passed CheckBundle. Its files are named as if they lay in `base_dir`, so
// the files a config names by relative path (certificates, keys) resolve there: an edge passes
// the directory where its node keeps them; the control plane, which has none, passes "".
LoadedConfig LoadBundle(const v1::ConfigBundle& bundle, const ValidateOptions& validate,
                        const std::string& base_dir = "");

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_BUNDLE_H_
