#include "common/net/spawn.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace holdfast {
namespace {

// Sends the default logger to a string for one test, then puts the old one back.
class CapturedLog {
 public:
  CapturedLog() : old_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%l %v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(old_); }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

TEST_CASE("a coroutine's exception is logged with its event and quoted text", "[common][net]") {
  CapturedLog log;
  LogFailure("edge.session_failed")(std::make_exception_ptr(std::runtime_error("bad \"x\"")));
  CHECK(log.str() == "error event=edge.session_failed error=\"bad \\\"x\\\"\"\n");
}

TEST_CASE("an exception that is no std::exception is logged, not swallowed", "[common][net]") {
  CapturedLog log;
  LogFailure("bgp.coroutine_failed", spdlog::level::critical)(std::make_exception_ptr(42));
  CHECK(log.str() == "critical event=bgp.coroutine_failed error=\"unknown exception\"\n");
}

TEST_CASE("a coroutine that returned logs nothing", "[common][net]") {
  CapturedLog log;
  LogFailure("edge.session_failed")(nullptr);
  CHECK(log.str().empty());
  CHECK(DescribeException(nullptr).empty());
}

}  // namespace
}  // namespace holdfast
