#pragma once
// Error texts quote the input that caused them, but only its start: an answer names the culprit
// without echoing a 10 KB path or header back to the caller (SageMaker hands the body on as is).

#include <cstddef>
#include <string>
#include <string_view>

namespace mls::server {

inline constexpr std::size_t kQuotedInputChars = 40;

inline std::string quote_input(std::string_view text) {
  if (text.size() <= kQuotedInputChars) return std::string(text);
  return std::string(text.substr(0, kQuotedInputChars)) + "...";
}

}  // namespace mls::server
