// The identity of an OpenSSL X509, for common/tls's own .cc files (certificate_facts.cc reads a
// listener's names through it). Other modules use certificate_identity.h.
#ifndef HOLDFAST_COMMON_TLS_INTERNAL_X509_IDENTITY_H_
#define HOLDFAST_COMMON_TLS_INTERNAL_X509_IDENTITY_H_

#include <openssl/x509.h>

#include "common/tls/certificate_identity.h"

namespace holdfast::tls::internal {

// `cert` must not be null; it is only read.
CertificateIdentity IdentityOf(X509* cert);

}  // namespace holdfast::tls::internal

#endif  // HOLDFAST_COMMON_TLS_INTERNAL_X509_IDENTITY_H_
