#include "common/tls/certificate_facts.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/file/read_file.h"

namespace holdfast::tls {
namespace {

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

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  absl::StatusOr<std::string> data = ReadFile(path, size_t{1} << 20);
  if (!data.ok()) {
    return absl::Status(
        data.status().code(),
        absl::StrCat(what, " '", path, "' is not readable: ", data.status().message()));
  }
  return data;
}

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& data) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

absl::Time ToTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&tm));
}

}  // namespace

absl::StatusOr<CertificateFacts> InspectCertificatePair(const std::string& cert_path,
                                                        const std::string& key_path) {
  absl::StatusOr<std::string> cert_pem = ReadPem(cert_path, "certificate");
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadPem(key_path, "key");
  if (!key_pem.ok()) return key_pem.status();

  // OpenSSL reports parse failures on its thread-local error queue; leave it empty for the
  // next caller.
  struct ErrorQueueClear {
    ~ErrorQueueClear() { ERR_clear_error(); }
  } clear_errors;

  auto cert_bio = MemoryBio(*cert_pem);
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate '", cert_path, "' does not parse as a PEM certificate"));
  }
  auto key_bio = MemoryBio(*key_pem);
  // An empty passphrase callback: an encrypted key fails here instead of prompting.
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(
      key_bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat("key '", key_path, "' does not parse as an unencrypted PEM private key"));
  }

  CertificateFacts facts;
  facts.not_before = ToTime(X509_get0_notBefore(cert.get()));
  facts.not_after = ToTime(X509_get0_notAfter(cert.get()));
  facts.key_matches = X509_check_private_key(cert.get(), key.get()) == 1;

  std::unique_ptr<GENERAL_NAMES, NamesFree> sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
      if (name->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = name->d.dNSName;
      facts.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
  char cn[256];
  const int cn_len =
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn));
  if (cn_len > 0) facts.names.emplace_back(cn, static_cast<size_t>(cn_len));
  return facts;
}

}  // namespace holdfast::tls
