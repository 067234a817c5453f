#include "common/log/log.h"

#include <cctype>
#include <chrono>
#include <ctime>
#include <memory>

#include "spdlog/formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace holdfast {
namespace {

bool IsKey(std::string_view k) {
  if (k.empty()) return false;
  for (const char c : k) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

// A JSON number as written: -?digits(.digits)?, no leading zeros beyond "0".
bool IsJsonNumber(std::string_view v) {
  size_t i = 0;
  if (i < v.size() && v[i] == '-') ++i;
  const size_t digits = i;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
  if (i == digits || (v[digits] == '0' && i - digits > 1) || i - digits > 18) return false;
  if (i < v.size() && v[i] == '.') {
    const size_t frac = ++i;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
    if (i == frac) return false;
  }
  return i == v.size();
}

// Formats each record as one JSON object on one line.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const std::time_t seconds =
        std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char time[64];  // room for any int the compiler can imagine in each field
    std::snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    std::string line = "{\"time\":\"";
    line += time;
    line += "\",\"level\":\"";
    line.append(level.data(), level.size());
    line += '"';
    const std::string members =
        KeyValuesToJsonMembers(std::string_view(msg.payload.data(), msg.payload.size()));
    if (!members.empty()) line += ',' + members;
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// The length of the well-formed UTF-8 sequence `s` starts with (RFC 3629 section 4: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0.
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto in = [&](size_t i, unsigned lo, unsigned hi) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  const unsigned lead = byte(0);
  if (lead >= 0xc2 && lead <= 0xdf) return in(1, 0x80, 0xbf) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const unsigned lo = lead == 0xe0 ? 0xa0 : 0x80;
    const unsigned hi = lead == 0xed ? 0x9f : 0xbf;
    return in(1, lo, hi) && in(2, 0x80, 0xbf) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const unsigned lo = lead == 0xf0 ? 0x90 : 0x80;
    const unsigned hi = lead == 0xf4 ? 0x8f : 0xbf;
    return in(1, lo, hi) && in(2, 0x80, 0xbf) && in(3, 0x80, 0xbf) ? 4 : 0;
  }
  return 0;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  const auto code_point = [&out](unsigned char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\u00";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  };
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // RFC 8259 section 8.1: JSON text is UTF-8. A well-formed sequence goes as it is; a byte
      // that starts none (HTTP's obs-text, say) goes as the code point of its value.
      const size_t length = Utf8SequenceLength(s.substr(i));
      if (length > 0) {
        out.append(s.substr(i, length));
        i += length;
      } else {
        code_point(c);
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          code_point(c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

std::string QuoteLogValue(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string KeyValuesToJsonMembers(std::string_view message) {
  std::string out;
  std::string rest;  // what is not key=value
  size_t i = 0;
  while (i < message.size()) {
    while (i < message.size() && message[i] == ' ') ++i;
    if (i == message.size()) break;
    const size_t start = i;
    const size_t eq = message.find('=', i);
    const size_t space = message.find(' ', i);
    std::string_view key;
    std::string_view value;
    bool quoted = false;
    bool ok = eq != std::string_view::npos && (space == std::string_view::npos || eq < space);
    if (ok) {
      key = message.substr(i, eq - i);
      ok = IsKey(key);
    }
    if (ok) {
      i = eq + 1;
      if (i < message.size() && message[i] == '"') {
        // A quoted value ends at a quote followed by a space or the end.
        size_t close = i + 1;
        while (close < message.size() && !(message[close] == '"' && (close + 1 == message.size() ||
                                                                     message[close + 1] == ' '))) {
          ++close;
        }
        if (close < message.size()) {
          value = message.substr(i + 1, close - i - 1);
          quoted = true;
          i = close + 1;
        } else {
          ok = false;
        }
      } else {
        const size_t end = message.find(' ', i);
        value = message.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
        i = end == std::string_view::npos ? message.size() : end;
      }
    }
    if (!ok) {
      const size_t end = message.find(' ', start);
      const std::string_view word = message.substr(
          start, end == std::string_view::npos ? std::string_view::npos : end - start);
      if (!rest.empty()) rest += ' ';
      rest.append(word);
      i = end == std::string_view::npos ? message.size() : end;
      continue;
    }
    if (!out.empty()) out += ',';
    AppendJsonString(out, key);
    out += ':';
    if (!quoted && (value == "true" || value == "false" || IsJsonNumber(value))) {
      out.append(value);
    } else {
      AppendJsonString(out, value);
    }
  }
  if (!rest.empty()) {
    if (!out.empty()) out += ',';
    out += "\"msg\":";
    AppendJsonString(out, rest);
  }
  return out;
}

void InitLogging(LogFormat format, std::string_view level) {
  // Logs go to stderr, one line per event; stdout stays free for what a caller may parse.
  auto logger = spdlog::stderr_logger_mt("holdfast");
  spdlog::set_default_logger(logger);
  if (format == LogFormat::kJson) {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
}

}  // namespace holdfast
