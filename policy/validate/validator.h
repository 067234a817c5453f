// The config validator: checks what a config means once the loader has checked its shape.
// Unique names, references that resolve, well-formed addresses and prefixes, VIPs inside their
// prefixes, listener clashes, prefixes of two services, sane health checks, TLS files, and
// safety floors that the configured POPs can meet. Every problem is reported; none stops it.
//
// Pure: no clock (the time comes in ValidateOptions), no network, and no file access of its own
// (certificate files are read through ValidateOptions::inspect_tls). Thread-compatible.
#ifndef HOLDFAST_POLICY_VALIDATE_VALIDATOR_H_
#define HOLDFAST_POLICY_VALIDATE_VALIDATOR_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls/certificate_facts.h"
#include "holdfast/v1/config.pb.h"
#include "policy/config/loader.h"
#include "policy/config/source_map.h"
#include "policy/finding.h"

namespace holdfast::policy {

struct ValidateOptions {
  // The time certificates are checked against.
  absl::Time now = absl::UnixEpoch();
  // Reads a certificate and its key (tls::InspectCertificatePair in a daemon or the CLI). Unset
  // skips every check that reads a file (`holdfastctl validate --no-files`).
  std::function<absl::StatusOr<tls::CertificateFacts>(const std::string& cert,
                                                      const std::string& key)>
      inspect_tls;
};

// A certificate expiring within this window is a warning (HF3005).
inline constexpr absl::Duration kCertificateExpiryWarning = absl::Hours(24 * 30);

// Findings about `config`, whose values were read at the places `sources` gives.
std::vector<Finding> Validate(const v1::Config& config, const SourceMap& sources,
                              const ValidateOptions& options);

// The one load-and-check path that holdfastctl validate, the control plane and the edges run:
// loads `paths`, then validates unless a file could not be read or parsed at all (the config
// would be incomplete and every reference into the missing file would be a false finding).
// Findings come sorted by file (in load order), line and column.
LoadedConfig LoadAndValidate(const std::vector<std::string>& paths, const LoadOptions& load,
                             const ValidateOptions& validate);

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_VALIDATE_VALIDATOR_H_
