#pragma once
// The server's image decoding path (server/codec/image_decoder) with the server's own limits, and
// the checks every successful result must pass.

#include <cmath>
#include <cstddef>
#include <string_view>

#include "models/core/model.h"
#include "server/codec/image_decoder.h"
#include "tests/fuzz/fuzz_check.h"

namespace mls::fuzz {

// Varies the model's input side with the input (shrink, equal and enlarge paths of the resize).
inline ImageInputSpec spec_for(std::string_view body) {
  constexpr std::size_t kSides[] = {28, 7, 64};
  return ImageInputSpec{kSides[body.size() % 3], 0.5f, 0.25f};
}

inline void decode_and_check(server::ImageInputFormat format, std::string_view body) {
  const ImageInputSpec spec = spec_for(body);
  const server::ImageDecodeOptions options;  // the server's defaults: 40 Mpixel, 100k images
  auto rows = server::decode_images(format, body, spec, options);
  if (!rows) {
    FUZZ_CHECK(!rows.error().message.empty());
    FUZZ_CHECK(rows.error().code == ErrorCode::kInvalidArgument ||
               rows.error().code == ErrorCode::kResourceExhausted);
    return;
  }
  FUZZ_CHECK(rows->rows > 0 && rows->rows <= options.max_images);
  FUZZ_CHECK(rows->cols == spec.size * spec.size);
  FUZZ_CHECK(rows->values.size() == rows->rows * rows->cols);
  // Pixels lie in [0, 1] before normalisation, so (v - 0.5) / 0.25 lies in [-2, 2].
  for (float v : rows->values)
    FUZZ_CHECK(std::isfinite(v) && v >= -2.0001f && v <= 2.0001f);
}

}  // namespace mls::fuzz
