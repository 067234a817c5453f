// A listener's access log: one line per request, what an operator reads first when a client
// says "it failed". Off unless the listener's config asks for it (Listener.access_log).
//
// Text, as the daemons' own logs, key=value:
//   time=2026-12-04T21:24:54.123Z listener=web client=192.0.2.7 method=GET
//   authority="www.example.net" path="/index.html" protocol=HTTP/1.1 status=503 flags=UH
//   reason="no healthy upstream" bytes_received=0 bytes_sent=0 duration_ms=0.412 route=www
//   cluster=web upstream=- user_agent="curl/7.88.1"
// (one line), or JSON, one object per line with the same names. `flags` is the response flag
// (local_reply.h), "-" when the backend's response went through whole.
//
// Lines are handed to a writer thread, so a slow disk never holds a request: when the writer
// falls behind by more than its queue, the oldest lines waiting are dropped (counted by
// holdfast_access_log_dropped_total).
#ifndef HOLDFAST_EDGE_SERVER_ACCESS_LOG_H_
#define HOLDFAST_EDGE_SERVER_ACCESS_LOG_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "edge/server/local_reply.h"

namespace spdlog {
class logger;
}

namespace holdfast::edge {

// One request as the access log tells it. The views must outlive Write().
struct AccessRecord {
  absl::Time start;
  absl::Duration duration;
  std::string_view listener;
  std::string_view client;
  // Empty when no whole request head came (a malformed or timed-out one).
  std::string_view method;
  std::string_view authority;
  std::string_view path;
  int minor_version = 1;
  // 0 when nothing was sent (the client went away first).
  int status = 0;
  ResponseFlag flag = ResponseFlag::kNone;
  // Why, when the edge answered itself.
  std::string_view reason;
  // Body bytes: from the client, and to the client.
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  std::string_view route;
  std::string_view cluster;
  // The endpoint ("address:port") of the last attempt; empty when none was tried.
  std::string_view upstream;
  std::string_view user_agent;
};

enum class AccessLogFormat { kText, kJson };

// The line for `record`, without the newline. Pure.
std::string FormatAccessRecord(const AccessRecord& record, AccessLogFormat format);

class AccessLog {
 public:
  // Appends to the file at `path`, created if missing; empty or "-": standard output. An error
  // names the file and why it cannot be opened.
  static absl::StatusOr<std::shared_ptr<AccessLog>> Open(std::string_view path,
                                                         AccessLogFormat format);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Queues the line for `record`; never blocks on the file. Thread-safe.
  void Write(const AccessRecord& record);
  // Lines dropped, over every access log of the process, because a writer fell behind.
  static size_t Dropped();

  std::string_view path() const { return path_; }
  AccessLogFormat format() const { return format_; }

 private:
  AccessLog(std::string path, AccessLogFormat format, std::shared_ptr<spdlog::logger> logger);

  std::string path_;
  AccessLogFormat format_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_SERVER_ACCESS_LOG_H_
