#include "common/tls/certificate_facts.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/file/read_file.h"
#include "common/tls/internal/openssl_ptr.h"
#include "common/tls/internal/x509_identity.h"

namespace holdfast::tls {
namespace {

using internal::BioPtr;
using internal::PkeyPtr;
using internal::X509Ptr;

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  absl::StatusOr<std::string> data = ReadFile(path, size_t{1} << 20);
  if (!data.ok()) {
    return absl::Status(
        data.status().code(),
        absl::StrCat(what, " '", path, "' is not readable: ", data.status().message()));
  }
  return data;
}

BioPtr MemoryBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
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
  X509Ptr cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate '", cert_path, "' does not parse as a PEM certificate"));
  }
  auto key_bio = MemoryBio(*key_pem);
  // An empty passphrase callback: an encrypted key fails here instead of prompting.
  PkeyPtr key(PEM_read_bio_PrivateKey(
      key_bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat("key '", key_path, "' does not parse as an unencrypted PEM private key"));
  }

  CertificateFacts facts;
  facts.not_before = ToTime(X509_get0_notBefore(cert.get()));
  facts.not_after = ToTime(X509_get0_notAfter(cert.get()));
  facts.key_matches = X509_check_private_key(cert.get(), key.get()) == 1;

  // The SAN's DNS names, then the subject CN (the one certificate-identity parser of common/tls).
  CertificateIdentity id = internal::IdentityOf(cert.get());
  facts.names = std::move(id.dns_names);
  if (!id.common_name.empty()) facts.names.push_back(std::move(id.common_name));
  return facts;
}

}  // namespace holdfast::tls
