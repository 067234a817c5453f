#include "policy/bundle.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/tls/certificate_facts.h"

namespace holdfast::policy {
namespace {

const std::string kExample = std::string(HF_SOURCE_DIR) + "/deploy/examples/holdfast.yaml";

v1::ConfigBundle BundleOf(std::initializer_list<std::string> paths) {
  v1::ConfigBundle b;
  for (const std::string& p : paths) {
    v1::ConfigBundle::File* f = b.add_files();
    f->set_path(p);
    f->set_content("listeners: []\n");
  }
  return b;
}

TEST_CASE("bundle paths stay inside the top-level file's directory", "[policy][bundle]") {
  CHECK(CheckBundle(BundleOf({"holdfast.yaml", "pops.yaml", "more/dns.yaml"})).ok());
  const std::string bad =
      GENERATE("../etc/passwd", "/etc/passwd", "a//b.yaml", "./a.yaml", "a/../../b.yaml", "");
  INFO(bad);
  CHECK(CheckBundle(BundleOf({"holdfast.yaml", bad})).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("a bundle names each file once and has at least one", "[policy][bundle]") {
  CHECK_FALSE(CheckBundle(BundleOf({"a.yaml", "a.yaml"})).ok());
  CHECK_FALSE(CheckBundle(v1::ConfigBundle()).ok());
}

TEST_CASE("the example config bundles with its includes and loads from the bundle alone",
          "[policy][bundle]") {
  const LoadedConfig from_disk = LoadConfig({kExample});
  REQUIRE_FALSE(HasErrors(from_disk.findings));
  const auto bundle = MakeBundle(from_disk.sources.files());
  REQUIRE(bundle.ok());
  REQUIRE(bundle->files_size() == 3);
  CHECK(bundle->files(0).path() == "holdfast.yaml");
  CHECK(bundle->files(1).path() == "pops.yaml");
  CHECK(bundle->files(2).path() == "dns.yaml");

  // Certificates are not in the bundle: validated without files, as the control plane does.
  const LoadedConfig loaded = LoadBundle(*bundle, ValidateOptions{});
  CHECK_FALSE(HasErrors(loaded.findings));
  CHECK(loaded.config.pops_size() == from_disk.config.pops_size());
  CHECK(loaded.config.dns().zones_size() == from_disk.config.dns().zones_size());
}

TEST_CASE("files a bundle names by relative path are found in the node's base directory",
          "[policy][bundle]") {
  const auto bundle = MakeBundle(LoadConfig({kExample}).sources.files());
  REQUIRE(bundle.ok());
  ValidateOptions with_files;
  with_files.now = absl::Now();
  with_files.inspect_tls = tls::InspectCertificatePair;
  // Where the example's certificates are: no finding about them.
  const LoadedConfig here =
      LoadBundle(*bundle, with_files, std::string(HF_SOURCE_DIR) + "/deploy/examples");
  CHECK_FALSE(HasErrors(here.findings));
  // A node without them: the certificate is unreadable (what an edge NACKs).
  const LoadedConfig elsewhere = LoadBundle(*bundle, with_files, "/nonexistent");
  REQUIRE(HasErrors(elsewhere.findings));
  bool unreadable = false;
  for (const Finding& f : elsewhere.findings) unreadable |= f.code == Code::kTlsUnreadable;
  CHECK(unreadable);
}

TEST_CASE("a bundle whose include is missing is a finding, not a crash", "[policy][bundle]") {
  v1::ConfigBundle b;
  v1::ConfigBundle::File* f = b.add_files();
  f->set_path("holdfast.yaml");
  f->set_content("include: [gone.yaml]\n");
  const LoadedConfig loaded = LoadBundle(b, ValidateOptions{});
  CHECK(HasErrors(loaded.findings));
}

}  // namespace
}  // namespace holdfast::policy
