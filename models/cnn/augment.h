#pragma once
// Light, label-preserving augmentation for gray training images in [0, 1]: a small shift and
// rotation (bilinear, edges repeated), then brightness and contrast. Every draw comes from one
// seed per (job seed, epoch, sample), so a resumed run augments exactly as an uninterrupted one
// without any saved random state.

#include <cstddef>
#include <cstdint>

namespace mls::cnn {

struct AugmentParams {
  float max_shift = 0.08f;  // fraction of the side, each axis
  float max_rotation_degrees = 10.0f;
  float max_brightness = 0.08f;  // added to every pixel, in [0, 1] units
  float max_contrast = 0.15f;    // deviation from the image mean scaled by 1 +- this
};

// A well-mixed seed for stream `tag` at (a, b): the same inputs give the same seed everywhere.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t tag, std::uint64_t a,
                          std::uint64_t b = 0);

// The seed for sample `index` (its position in the training set) in `epoch`.
std::uint64_t augment_seed(std::uint64_t job_seed, std::uint64_t epoch, std::uint64_t index);

// in, out: size * size pixels in [0, 1], row-major, not overlapping. Output stays in [0, 1].
void augment_image(const float* in, std::size_t size, const AugmentParams& params,
                   std::uint64_t seed, float* out);

}  // namespace mls::cnn
