// TLS termination in holdfast-edge, checked with curl and openssl s_client against certificates
// from deploy/certs/make-test-certs: SNI picks the certificate, TLS 1.2 and 1.3, ALPN, the
// minimum version, and TLS in front of an L4 cluster.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/integration/edge_lab.h"

namespace {

using holdfast::testing::EdgeLab;
using holdfast::testing::RunResult;

constexpr const char* kTlsListeners =
    "  - name: https\n"
    "    port: {https}\n"
    "    protocol: https\n"
    "    tls:\n"
    "      certificates:\n"
    "        - {sni: [www.example.net], cert: certs/www.pem, key: certs/www.key}\n"
    "        - {sni: [api.example.net], cert: certs/api.pem, key: certs/api.key}\n"
    "      alpn: [http/1.1]\n"
    "  - name: tls\n"
    "    port: {tls}\n"
    "    protocol: tls\n"
    "    cluster: web\n"
    "    tls:\n"
    "      certificates: [{cert: certs/www.pem, key: certs/www.key}]\n"
    "      min_version: \"1.3\"\n";

// curl -v to https://NAME:PORT/PATH, NAME resolved to 127.0.0.1 and verified against the CA.
RunResult CurlTls(const EdgeLab& lab, const std::string& name, uint16_t port,
                  const std::string& path, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"-v", "--cacert", lab.ca(), "--resolve",
                                   name + ":" + std::to_string(port) + ":127.0.0.1"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("https://" + name + ":" + std::to_string(port) + path);
  return lab.Curl(args);
}

TEST_CASE("https: the certificate follows SNI, and requests are routed as over http",
          "[edge][tls]") {
  EdgeLab lab(kTlsListeners);
  const RunResult www = CurlTls(lab, "www.example.net", lab.https_port(), "/page");
  INFO(www.err);
  CHECK(www.exit_code == 0);
  CHECK(www.err.find("subject: CN=www.example.net") != std::string::npos);
  CHECK(www.err.find("ALPN: server accepted http/1.1") != std::string::npos);
  CHECK(www.out.rfind("web", 0) == 0);

  const RunResult api = CurlTls(lab, "api.example.net", lab.https_port(), "/v1/users");
  INFO(api.err);
  CHECK(api.exit_code == 0);
  CHECK(api.err.find("subject: CN=api.example.net") != std::string::npos);
  CHECK(api.out == "api1 /v1/users\n");
}

TEST_CASE("https: the backend is told the request came over https", "[edge][tls]") {
  EdgeLab lab(kTlsListeners);
  const RunResult r = CurlTls(lab, "www.example.net", lab.https_port(), "/echo");
  CHECK(r.out.find("[\"X-Forwarded-Proto\", \"https\"]") != std::string::npos);
  CHECK(r.out.find("proto=https") != std::string::npos);
}

TEST_CASE("https speaks TLS 1.2 and 1.3, a listener with min_version 1.3 refuses 1.2",
          "[edge][tls]") {
  EdgeLab lab(kTlsListeners);
  const RunResult v12 =
      CurlTls(lab, "www.example.net", lab.https_port(), "/", {"--tlsv1.2", "--tls-max", "1.2"});
  CHECK(v12.exit_code == 0);
  CHECK(v12.err.find("SSL connection using TLSv1.2") != std::string::npos);
  const RunResult v13 = CurlTls(lab, "www.example.net", lab.https_port(), "/", {"--tlsv1.3"});
  CHECK(v13.exit_code == 0);
  CHECK(v13.err.find("SSL connection using TLSv1.3") != std::string::npos);

  const RunResult refused =
      CurlTls(lab, "www.example.net", lab.tls_port(), "/", {"--tlsv1.2", "--tls-max", "1.2"});
  CHECK(refused.exit_code != 0);
  CHECK(lab.Metric("holdfast_tls_handshake_failures_total{listener=\"tls\"}") >= 1);
}

TEST_CASE("a tls listener terminates TLS and passes the bytes to its cluster", "[edge][tls]") {
  EdgeLab lab(kTlsListeners);
  // The backend speaks plain HTTP: what arrives there is the decrypted request.
  const RunResult r = CurlTls(lab, "www.example.net", lab.tls_port(), "/l4");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(" /l4\n") != std::string::npos);
}

TEST_CASE("a client that speaks plain HTTP to an https listener is dropped, not served",
          "[edge][tls]") {
  EdgeLab lab(kTlsListeners);
  const std::string reply = holdfast::testing::RawExchange(
      lab.https_port(), "GET / HTTP/1.1\r\nHost: www.example.net\r\n\r\n");
  CHECK(reply.find("HTTP/1.1 200") == std::string::npos);
  CHECK(lab.Metric("holdfast_upstream_requests_total{cluster=\"web\"}") == 0);
}

}  // namespace
