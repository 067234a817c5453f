#include "edge/daemon/loader.h"

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "common/tls/certificate_facts.h"
#include "edge/daemon/startup.h"
#include "policy/bundle.h"
#include "policy/validate/validator.h"

namespace holdfast::edge {

absl::StatusOr<Loaded> LoadConfig(const ConfigOrigin& origin, std::string_view node,
                                  const std::string& files_dir) {
  policy::ValidateOptions validate;
  validate.now = absl::Now();
  validate.inspect_tls = tls::InspectCertificatePair;
  policy::LoadedConfig loaded;
  if (origin.snapshot != nullptr) {
    HF_RETURN_IF_ERROR(policy::CheckBundle(origin.snapshot->config()));
    loaded = policy::LoadBundle(origin.snapshot->config(), validate, files_dir);
  } else {
    loaded = policy::LoadAndValidate({origin.file}, {}, validate);
  }
  LogFindings(loaded.findings);
  if (policy::HasErrors(loaded.findings)) {
    return absl::InvalidArgumentError(policy::SummarizeErrors(loaded.findings));
  }
  auto compiled = CompileEdgeConfig(loaded.config, loaded.sources, node);
  if (!compiled.ok()) return compiled.status();
  return Loaded{*std::move(compiled), origin,
                origin.snapshot != nullptr ? std::vector<std::string>{} : loaded.sources.files()};
}

}  // namespace holdfast::edge
