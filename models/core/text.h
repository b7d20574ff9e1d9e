#pragma once
// Small text helpers shared by the parsers on both sides of the seam.

#include <charconv>
#include <string>
#include <string_view>

namespace mls {

// Without leading and trailing spaces and tabs.
inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The shortest text that reads back as the same double: 1, 0.5, 1e-07.
inline std::string number_text(double value) {
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, ptr);
}

}  // namespace mls
