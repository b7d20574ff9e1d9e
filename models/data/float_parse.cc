#include "models/data/float_parse.h"

#include <fast_float/fast_float.h>

namespace mls::detail {

std::from_chars_result parse_float(const char* first, const char* last, float& v) {
  double wide;
  const auto w = fast_float::from_chars(first, last, wide);
  if (w.ec == std::errc() && rounds_like_the_decimal(wide)) {
    v = static_cast<float>(wide);
    return {w.ptr, w.ec};
  }
  const auto r = fast_float::from_chars(first, last, v);
  if (r.ec == std::errc() && std::isnormal(v)) return {r.ptr, r.ec};
  return std::from_chars(first, last, v);
}

}  // namespace mls::detail
