// The --log-level and --log-format flags every daemon takes, and the logging they set up.
#ifndef HOLDFAST_COMMON_LOG_LOG_FLAGS_H_
#define HOLDFAST_COMMON_LOG_LOG_FLAGS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "common/log/log.h"

namespace holdfast {

struct LogFlags {
  std::string level = "info";
  std::string format = "text";

  void AddTo(CLI::App& app) {
    app.add_option("--log-level", level, "trace, debug, info, warn, error")
        ->default_val("info")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    app.add_option("--log-format", format,
                   "text (event=... key=value) or json (one object per line), on stderr")
        ->default_val("text")
        ->check(CLI::IsMember({"text", "json"}));
  }
  // After parsing, before any thread logs.
  void Init() const { InitLogging(format == "json" ? LogFormat::kJson : LogFormat::kText, level); }
};

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_LOG_LOG_FLAGS_H_
