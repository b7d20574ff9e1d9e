#pragma once
// The nearest float to a decimal number at the start of a text: what the CSV reader turns every
// cell into.

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace mls::detail {

// The double nearest a decimal lies on the same side of every float midpoint as the decimal
// itself (rounding is monotonic and midpoints of normal floats are doubles), so rounding it to
// float gives the decimal's nearest float unless it *is* a midpoint: 29 bits past the float's 24
// reading exactly 1000...0. A double within `slack` ulps of the decimal (0: the nearest) does when
// those bits are more than `slack` from that pattern: every double between it and the decimal then
// rounds the same way. Only for normal floats: below FLT_MIN the float's precision shrinks.
inline bool rounds_like_the_decimal(double wide, std::uint64_t slack = 0) {
  const double magnitude = std::fabs(wide);
  if (!(magnitude >= std::numeric_limits<float>::min() &&
        magnitude <= std::numeric_limits<float>::max()))
    return false;
  constexpr std::uint64_t kBelowFloat = (std::uint64_t{1} << 29) - 1;
  constexpr std::uint64_t kMidpoint = std::uint64_t{1} << 28;
  // Unsigned: bits below kMidpoint - slack wrap around to large values.
  return (std::bit_cast<std::uint64_t>(wide) & kBelowFloat) - (kMidpoint - slack) > 2 * slack;
}

// Whether a cell starting with c may be a bare number (no blank, quote or '+' first): the cells the
// fast paths try; everything else goes the general way.
inline bool starts_bare_number(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// std::from_chars for a float, faster: fast_float, parsing to double and rounding that (9.0 ns a
// number on HTRU2's cells against 12.1 ns for fast_float's float parse and 19 ns for libstdc++
// 12's from_chars: HTRU2's ten-digit numbers take the exact double fast path, while the float
// parse needs its slower general algorithm). Correctly rounded (see rounds_like_the_decimal); the
// rare midpoints take fast_float's float parse, and zeros, subnormals (where from_chars reports
// underflow and parse_number's rule applies), infinities and failures are answered by
// std::from_chars itself.
std::from_chars_result parse_float(const char* first, const char* last, float& v);

}  // namespace mls::detail
