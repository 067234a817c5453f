#include "common/tls/certificate_identity.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <climits>
#include <memory>

#include "absl/status/status.h"
#include "common/tls/internal/openssl_ptr.h"
#include "common/tls/internal/x509_identity.h"

namespace holdfast::tls {
namespace {

// One entry (CN, OU) of a certificate's subject as UTF-8, or empty. ASN1_STRING_to_UTF8
// rather than the raw bytes: a subject may be a BMPString or a UniversalString.
std::string SubjectEntry(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(name, nid, -1);
  if (at < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return "";
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

namespace internal {

CertificateIdentity IdentityOf(X509* cert) {
  CertificateIdentity id;
  id.common_name = SubjectEntry(cert, NID_commonName);
  id.organizational_unit = SubjectEntry(cert, NID_organizationalUnitName);
  internal::NamesPtr sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
      if (name->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = name->d.dNSName;
      id.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
  return id;
}

}  // namespace internal

absl::StatusOr<CertificateIdentity> ParseCertificateIdentity(std::string_view pem) {
  // OpenSSL reports parse failures on its thread-local error queue; leave it empty for the
  // next caller.
  struct ErrorQueueClear {
    ~ErrorQueueClear() { ERR_clear_error(); }
  } clear_errors;
  if (pem.size() > INT_MAX) return absl::InvalidArgumentError("certificate PEM too large");
  internal::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  internal::X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return absl::InvalidArgumentError("no PEM certificate");
  return internal::IdentityOf(cert.get());
}

}  // namespace holdfast::tls
