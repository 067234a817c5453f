#include "common/net/spawn.h"

#include <spdlog/spdlog.h>

#include "common/log/log.h"

namespace holdfast {

std::string DescribeException(const std::exception_ptr& e) {
  if (!e) return "";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    // Anything else thrown (an int, a library's own type) is still a failure to report.
    return "unknown exception";
  }
}

void LogFailure::operator()(const std::exception_ptr& e) const {
  if (!e) return;
  spdlog::log(level_, "event={} error={}", event_, QuoteLogValue(DescribeException(e)));
}

}  // namespace holdfast
