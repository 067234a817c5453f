// Who a certificate names: what the control plane reads from a peer's certificate to know the
// caller (an edge node, an operator), and what the config validator checks a listener's
// certificate against. The struct is plain data; the parsing is in holdfast_common_tls.
#ifndef HOLDFAST_COMMON_TLS_CERTIFICATE_IDENTITY_H_
#define HOLDFAST_COMMON_TLS_CERTIFICATE_IDENTITY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace holdfast::tls {

struct CertificateIdentity {
  // The subject's CN and OU as UTF-8 (the first of each), or empty when it has none.
  std::string common_name;
  std::string organizational_unit;
  // The DNS names of the subjectAltName extension, in order.
  std::vector<std::string> dns_names;
};

// The identity of the first certificate in `pem` (PEM text: a peer's certificate as gRPC's
// auth context gives it, "x509_pem_cert", or a chain's leaf). Errors: InvalidArgument when
// `pem` holds no PEM certificate. Thread-safe; leaves OpenSSL's error queue empty.
[[nodiscard]] absl::StatusOr<CertificateIdentity> ParseCertificateIdentity(std::string_view pem);

}  // namespace holdfast::tls

#endif  // HOLDFAST_COMMON_TLS_CERTIFICATE_IDENTITY_H_
