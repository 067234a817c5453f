#include "common/tls/certificate_identity.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/file/read_file.h"

namespace holdfast::tls {
namespace {

// deploy/examples/certs/edge.pem, made by the example_certs fixture: CN www.example.net, SAN
// www.example.net and api.example.net, no OU; the leaf comes before the CA.
TEST_CASE("reads the CN and the SAN's DNS names of a chain's leaf", "[common][tls]") {
  absl::StatusOr<std::string> pem =
      ReadFile(std::string(HF_SOURCE_DIR) + "/deploy/examples/certs/edge.pem");
  REQUIRE(pem.ok());
  absl::StatusOr<CertificateIdentity> id = ParseCertificateIdentity(*pem);
  REQUIRE(id.ok());
  CHECK(id->common_name == "www.example.net");
  CHECK(id->organizational_unit.empty());
  CHECK(id->dns_names == std::vector<std::string>{"www.example.net", "api.example.net"});
}

TEST_CASE("text that holds no PEM certificate is InvalidArgument", "[common][tls]") {
  const std::string text = GENERATE(std::string(), std::string("not a certificate"),
                                    std::string("-----BEGIN CERTIFICATE-----\nAAAA\n"));
  absl::StatusOr<CertificateIdentity> id = ParseCertificateIdentity(text);
  REQUIRE_FALSE(id.ok());
  CHECK(id.status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace holdfast::tls
