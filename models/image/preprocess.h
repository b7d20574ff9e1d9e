#pragma once
// The one preprocessing path from a grayscale image to model input, shared by train and serve:
//   1. pixels to float in [0, 1] (uint8 p -> p / 255.0f exactly; float pixels as they are);
//   2. resize to size x size, each axis on its own: area averaging when shrinking (each output
//      pixel is the coverage-weighted mean of the input pixels under it), bilinear interpolation
//      with half-pixel centres and clamped edges when enlarging, a plain copy when equal;
//   3. normalise: (v - mean) / std.
// An image already size x size therefore yields exactly p / 255.0f before normalisation, whatever
// way it arrived (PNG, .npy uint8, raw bytes).

#include <cstddef>
#include <span>

#include "models/core/model.h"
#include "models/core/status.h"
#include "models/image/image.h"

namespace mls {

// Output is size x size; the same struct the model's manifest stores.
using PreprocessSpec = ImageInputSpec;

// Writes spec.size * spec.size floats, row-major, into `out` (which must hold exactly that many).
Status preprocess_image(const GrayView& image, const PreprocessSpec& spec, std::span<float> out);

}  // namespace mls
