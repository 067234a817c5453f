#include "edge/server/access_log.h"

#include <mutex>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/cat.h"
#include "common/log/log.h"
#include "spdlog/async.h"
#include "spdlog/async_logger.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace holdfast::edge {
namespace {

// Lines waiting for the writer, over every access log; beyond it the oldest are dropped.
constexpr size_t kQueueLines = size_t{64} * 1024;

// The one writer thread of every access log of the process, started with the first log.
// Null until then when `start` is false.
std::shared_ptr<spdlog::details::thread_pool> WriterPool(bool start) {
  static std::mutex mu;
  static std::shared_ptr<spdlog::details::thread_pool> pool;
  const std::lock_guard lock(mu);
  if (pool == nullptr && start) {
    pool = std::make_shared<spdlog::details::thread_pool>(kQueueLines, 1);
  }
  return pool;
}

// The fields in order, each as text (quoted when it may hold spaces or quotes) or JSON.
class Line {
 public:
  explicit Line(AccessLogFormat format) : json_(format == AccessLogFormat::kJson) {
    if (json_) out_ += '{';
  }

  void String(std::string_view key, std::string_view value) {
    Key(key);
    if (json_) {
      AppendJsonString(out_, value);
    } else {
      out_ += QuoteLogValue(value);
    }
  }
  // A value that never holds a space or a quote ("-" when empty).
  void Word(std::string_view key, std::string_view value) {
    if (value.empty()) value = "-";
    Key(key);
    if (json_) {
      AppendJsonString(out_, value);
    } else {
      out_.append(value);
    }
  }
  void Number(std::string_view key, std::string_view value) {
    Key(key);
    out_.append(value);
  }

  std::string Finish() && {
    if (json_) out_ += '}';
    return std::move(out_);
  }

 private:
  void Key(std::string_view key) {
    if (json_) {
      if (out_.size() > 1) out_ += ',';
      AppendJsonString(out_, key);
      out_ += ':';
    } else {
      if (!out_.empty()) out_ += ' ';
      Append(out_, key, "=");
    }
  }

  bool json_;
  std::string out_;
};

}  // namespace

std::string FormatAccessRecord(const AccessRecord& r, AccessLogFormat format) {
  Line line(format);
  line.Word("time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", r.start, absl::UTCTimeZone()));
  line.Word("listener", r.listener);
  line.Word("client", r.client);
  line.Word("method", r.method);
  line.String("authority", r.authority);
  line.String("path", r.path);
  line.Word("protocol", r.method.empty() ? "" : (r.minor_version == 0 ? "HTTP/1.0" : "HTTP/1.1"));
  line.Number("status", Cat(r.status));
  line.Word("flags", FlagCode(r.flag));
  line.String("reason", r.reason);
  line.Number("bytes_received", Cat(r.bytes_received));
  line.Number("bytes_sent", Cat(r.bytes_sent));
  line.Number("duration_ms", absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(r.duration)));
  line.Word("route", r.route);
  line.Word("cluster", r.cluster);
  line.Word("upstream", r.upstream);
  line.String("user_agent", r.user_agent);
  return std::move(line).Finish();
}

absl::StatusOr<std::shared_ptr<AccessLog>> AccessLog::Open(std::string_view path,
                                                           AccessLogFormat format) {
  spdlog::sink_ptr sink;
  if (path.empty() || path == "-") {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(std::string(path));
    } catch (const spdlog::spdlog_ex& e) {
      return absl::FailedPreconditionError(Cat("access log ", path, ": ", e.what()));
    }
  }
  auto logger = std::make_shared<spdlog::async_logger>(
      Cat("access:", path), std::move(sink), WriterPool(true),
      spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  return std::shared_ptr<AccessLog>(new AccessLog(std::string(path), format, std::move(logger)));
}

AccessLog::AccessLog(std::string path, AccessLogFormat format,
                     std::shared_ptr<spdlog::logger> logger)
    : path_(std::move(path)), format_(format), logger_(std::move(logger)) {}

AccessLog::~AccessLog() { logger_->flush(); }

void AccessLog::Write(const AccessRecord& record) {
  logger_->info(FormatAccessRecord(record, format_));
}

size_t AccessLog::Dropped() {
  const auto pool = WriterPool(false);
  return pool == nullptr ? 0 : pool->overrun_counter();
}

}  // namespace holdfast::edge
