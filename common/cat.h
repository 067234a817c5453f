// Concatenation of std::string_view, strings and integers. absl::StrCat would do, but Debian's
// Abseil 20220623 has its own absl::string_view that std::string_view does not convert to, and
// the edge's codecs speak std::string_view.
#ifndef HOLDFAST_COMMON_CAT_H_
#define HOLDFAST_COMMON_CAT_H_

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>

namespace holdfast {

inline void AppendPart(std::string& out, std::string_view s) { out.append(s); }

template <std::integral I>
requires(!std::same_as<I, char> && !std::same_as<I, bool>) void AppendPart(std::string& out,
                                                                           I value) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

template <typename... T>
void Append(std::string& out, const T&... parts) {
  (AppendPart(out, parts), ...);
}

template <typename... T>
std::string Cat(const T&... parts) {
  std::string out;
  Append(out, parts...);
  return out;
}

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_CAT_H_
