// Owning pointers to the OpenSSL objects common/tls's .cc files make, each freed with its own
// *_free function. Internal to common/tls.
#ifndef HOLDFAST_COMMON_TLS_INTERNAL_OPENSSL_PTR_H_
#define HOLDFAST_COMMON_TLS_INTERNAL_OPENSSL_PTR_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace holdfast::tls::internal {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, NamesFree>;

}  // namespace holdfast::tls::internal

#endif  // HOLDFAST_COMMON_TLS_INTERNAL_OPENSSL_PTR_H_
