// What the config validator needs to know about a TLS certificate and its key, read from PEM
// files with OpenSSL. The struct is plain data so that policy/ can use it without OpenSSL;
// InspectCertificatePair() is in the holdfast_common_tls target.
#ifndef HOLDFAST_COMMON_TLS_CERTIFICATE_FACTS_H_
#define HOLDFAST_COMMON_TLS_CERTIFICATE_FACTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace holdfast::tls {

struct CertificateFacts {
  // Validity of the leaf (the first certificate in the file).
  absl::Time not_before;
  absl::Time not_after;
  // DNS names of the leaf's subjectAltName extension, and its subject CN.
  std::vector<std::string> names;
  // The private key is the leaf's.
  bool key_matches = false;
};

// Reads a PEM certificate chain and a PEM private key. Errors:
//   NotFound / PermissionDenied / FailedPrecondition: a file cannot be read ("not readable");
//   InvalidArgument: a file holds no PEM certificate or key ("does not parse"), with the
//   message saying which file.
[[nodiscard]] absl::StatusOr<CertificateFacts> InspectCertificatePair(const std::string& cert_path,
                                                                      const std::string& key_path);

}  // namespace holdfast::tls

#endif  // HOLDFAST_COMMON_TLS_CERTIFICATE_FACTS_H_
