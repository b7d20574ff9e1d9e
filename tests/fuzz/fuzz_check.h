#pragma once
// Shared by every fuzz target: FUZZ_CHECK(cond) aborts with a message when an invariant of a
// parser's successful result does not hold, so libFuzzer (or the replay runner) reports it as a
// crash instead of the target silently accepting a wrong answer.

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

namespace mls::fuzz {

inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace mls::fuzz
