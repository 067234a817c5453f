// Logging for every daemon (DESIGN.md, CONVENTIONS.md "Logs"): one line per event on stderr, an
// event name and key=value fields, e.g.
//   2026-11-24T22:56:56.312Z info event=edge.started node=ams-1 workers=2
// or, with the JSON format, one object per line with the same fields:
//   {"time":"2026-11-24T22:56:56.312Z","level":"info","event":"edge.started","node":"ams-1","workers":2}
#ifndef HOLDFAST_COMMON_LOG_LOG_H_
#define HOLDFAST_COMMON_LOG_LOG_H_

#include <string>
#include <string_view>

namespace holdfast {

enum class LogFormat { kText, kJson };

// Sends spdlog's default logger to stderr in `format` at `level` ("trace" .. "error").
// Call once, before any thread logs.
void InitLogging(LogFormat format, std::string_view level);

// `value` in double quotes, with quotes and backslashes escaped, for a key=value field that may
// hold spaces or come from outside (an exception's text, a peer's error). Pure.
std::string QuoteLogValue(std::string_view value);

// Appends `s` to `out` as a JSON string: quoted, with quotes, backslashes and control characters
// escaped, and each byte that is not part of well-formed UTF-8 written as the code point of its
// value (\u00XX), so that the line stays valid JSON whatever a client sent.
void AppendJsonString(std::string& out, std::string_view s);

// The fields of a key=value log message as the members of a JSON object, without the braces:
// values in double quotes may hold spaces; integers, decimals and true/false become JSON
// numbers and booleans; anything that is not key=value goes into "msg". Pure; for tests.
std::string KeyValuesToJsonMembers(std::string_view message);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_LOG_LOG_H_
