#include "policy/validate/validator.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/tls/certificate_facts.h"
#include "tests/support/temp_dir.h"

namespace holdfast::policy {
namespace {

namespace fs = std::filesystem;
using holdfast::testing::TempDir;

EVP_PKEY* NewKey() { return EVP_EC_gen("P-256"); }

void WritePem(const fs::path& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

// A self-signed certificate for `names`, valid from `not_before` to `not_after`.
void WriteCertificate(const fs::path& path, EVP_PKEY* key, const std::vector<std::string>& names,
                      absl::Time not_before, absl::Time not_after) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  ASN1_TIME_set(X509_getm_notBefore(x), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(x), absl::ToTimeT(not_after));
  X509_set_pubkey(x, key);
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names[0].c_str()), -1, -1, 0);
  X509_set_issuer_name(x, subject);
  std::string san;
  for (const auto& n : names) absl::StrAppend(&san, san.empty() ? "" : ",", "DNS:", n);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, key, EVP_sha256());
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  PEM_write_X509(f, x);
  std::fclose(f);
  X509_free(x);
}

// A complete valid config with one https listener whose certificate is CERT and key KEY.
constexpr char kTlsConfig[] = R"(
listeners:
  - name: https
    address: 127.0.0.1
    port: 8443
    protocol: https
    tls:
      certificates:
        - sni: [www.example.net]
          cert: CERT
          key: KEY
routes:
  - {name: web, cluster: web}
clusters:
  - name: web
    endpoints: [{address: 127.0.0.1, port: 9000}]
)";

struct TlsFixture {
  TempDir dir;
  absl::Time issued = absl::FromUnixSeconds(1'800'000'000);
  absl::Time expires = issued + absl::Hours(24 * 90);

  TlsFixture() {
    EVP_PKEY* key = NewKey();
    EVP_PKEY* other = NewKey();
    WritePem(dir.path() / "edge.key", key);
    WritePem(dir.path() / "other.key", other);
    WriteCertificate(dir.path() / "edge.pem", key, {"www.example.net", "*.example.org"}, issued,
                     expires);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
  }

  // Validates kTlsConfig with CERT and KEY replaced, at time `now`.
  LoadedConfig Check(const std::string& cert, const std::string& key, absl::Time now,
                     const std::string& sni = "www.example.net") const {
    const std::string path =
        dir.Write("holdfast.yaml",
                  absl::StrReplaceAll(
                      kTlsConfig, {{"CERT", cert}, {"KEY", key}, {"www.example.net]", sni + "]"}}));
    ValidateOptions options;
    options.now = now;
    options.inspect_tls = tls::InspectCertificatePair;
    return LoadAndValidate({path}, {}, options);
  }
};

std::vector<std::string> Codes(const LoadedConfig& c) {
  std::vector<std::string> out;
  for (const Finding& f : c.findings) out.push_back(std::string(Info(f.code).id));
  return out;
}

TEST_CASE("a valid certificate and its key pass, with paths relative to the config",
          "[policy][validate][tls]") {
  TlsFixture t;
  const LoadedConfig c = t.Check("edge.pem", "edge.key", t.issued + absl::Hours(24));
  INFO(Catch::Detail::stringify(Codes(c)));
  CHECK(c.findings.empty());
}

TEST_CASE("certificate problems are found at the key that names the file",
          "[policy][validate][tls]") {
  TlsFixture t;
  const absl::Time fresh = t.issued + absl::Hours(24);

  SECTION("a missing file is not readable") {
    const LoadedConfig c = t.Check("missing.pem", "edge.key", fresh);
    REQUIRE(Codes(c) == std::vector<std::string>{"HF3001"});
    CHECK(c.findings[0].where.line == 10);
    CHECK_THAT(c.findings[0].message, Catch::Contains("is not readable: no such file"));
  }
  SECTION("a file that is not PEM does not parse") {
    t.dir.Write("junk.pem", "not a certificate\n");
    const LoadedConfig c = t.Check("edge.pem", "junk.pem", fresh);
    REQUIRE(Codes(c) == std::vector<std::string>{"HF3002"});
    CHECK(c.findings[0].where.line == 11);  // the key's line
  }
  SECTION("a key of another certificate") {
    const LoadedConfig c = t.Check("edge.pem", "other.key", fresh);
    REQUIRE(Codes(c) == std::vector<std::string>{"HF3003"});
    CHECK_THAT(c.findings[0].message, Catch::Contains("does not belong to certificate"));
  }
  SECTION("expired") {
    const LoadedConfig c = t.Check("edge.pem", "edge.key", t.expires + absl::Seconds(1));
    REQUIRE(Codes(c) == std::vector<std::string>{"HF3004"});
    CHECK(c.findings[0].severity == Severity::kError);
    CHECK_THAT(c.findings[0].message, Catch::Contains("expired at"));
  }
  SECTION("not valid yet") {
    const LoadedConfig c = t.Check("edge.pem", "edge.key", t.issued - absl::Hours(1));
    REQUIRE(Codes(c) == std::vector<std::string>{"HF3004"});
    CHECK_THAT(c.findings[0].message, Catch::Contains("is not valid before"));
  }
  SECTION("expiring within 30 days is a warning") {
    const LoadedConfig c = t.Check("edge.pem", "edge.key", t.expires - absl::Hours(24 * 29));
    REQUIRE(Codes(c) == std::vector<std::string>{"HF3005"});
    CHECK(c.findings[0].severity == Severity::kWarning);
    CHECK_THAT(c.findings[0].message, Catch::Contains("expires in 29 days"));
  }
  SECTION("31 days left is no warning") {
    CHECK(t.Check("edge.pem", "edge.key", t.expires - absl::Hours(24 * 31)).findings.empty());
  }
  SECTION("an SNI name the certificate does not cover is a warning") {
    const LoadedConfig c = t.Check("edge.pem", "edge.key", fresh, "api.example.net");
    REQUIRE(Codes(c) == std::vector<std::string>{"HF3006"});
    CHECK_THAT(c.findings[0].message, Catch::Contains("does not cover 'api.example.net'"));
  }
  SECTION("a wildcard certificate covers one label") {
    CHECK(t.Check("edge.pem", "edge.key", fresh, "shop.example.org").findings.empty());
    CHECK(Codes(t.Check("edge.pem", "edge.key", fresh, "a.shop.example.org")) ==
          std::vector<std::string>{"HF3006"});
  }
  SECTION("without inspect_tls (--no-files) no file is read") {
    const std::string path = t.dir.Write(
        "holdfast.yaml",
        absl::StrReplaceAll(kTlsConfig, {{"CERT", "missing.pem"}, {"KEY", "missing.key"}}));
    ValidateOptions options;
    options.now = fresh;
    CHECK(LoadAndValidate({path}, {}, options).findings.empty());
  }
}

TEST_CASE("the example config validates clean, files included", "[policy][validate]") {
  ValidateOptions options;
  options.now = absl::Now();
  options.inspect_tls = tls::InspectCertificatePair;
  const LoadedConfig c =
      LoadAndValidate({std::string(HF_SOURCE_DIR) + "/deploy/examples/holdfast.yaml"}, {}, options);
  std::vector<std::string> lines;
  for (const Finding& f : c.findings) {
    lines.push_back(absl::StrCat(f.where.file, ":", f.where.line, " ", f.message));
  }
  INFO(Catch::Detail::stringify(lines));
  CHECK(c.findings.empty());
  CHECK(c.config.pops_size() == 3);
  CHECK(c.sources.files().size() == 3);
}

TEST_CASE("listeners without an address clash on the nodes' addresses", "[policy][validate]") {
  TempDir dir;
  const std::string path = dir.Write("holdfast.yaml", R"(
listeners:
  - {name: http, port: 8080, protocol: http}
  - {name: other, address: 127.0.1.1, port: 8080, protocol: http}
  - {name: any, address: 0.0.0.0, port: 5353, protocol: dns}
  - {name: dns, port: 5353, protocol: dns}
routes:
  - {name: web, cluster: web}
clusters:
  - {name: web, endpoints: [{address: 127.0.0.1, port: 9000}]}
pops:
  - name: ams
    region: eu
    nodes: [{name: ams-1, addresses: [127.0.1.1]}]
)");
  ValidateOptions options;
  const LoadedConfig c = LoadAndValidate({path}, {}, options);
  std::vector<std::string> conflicts;
  for (const Finding& f : c.findings) {
    if (f.code == Code::kListenerConflict) {
      conflicts.push_back(absl::StrCat(f.where.line, ": ", f.message));
    }
  }
  CHECK_THAT(conflicts, Catch::Matchers::VectorContains(std::string(
                            "4: listeners[1].port: listener 'other' and listener 'http' (at " +
                            path + ":3:5) both bind 127.0.1.1 port 8080")));
  CHECK_THAT(conflicts, Catch::Matchers::VectorContains(std::string(
                            "6: listeners[3].port: listener 'dns' and listener 'any' (at " + path +
                            ":5:5) both bind 127.0.1.1 port 5353")));
  CHECK(conflicts.size() == 2);
}

}  // namespace
}  // namespace holdfast::policy
