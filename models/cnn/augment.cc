#include "models/cnn/augment.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "models/cnn/cnn_random.h"

namespace mls::cnn {
namespace {

constexpr std::uint64_t kAugmentTag = 0xA06E17A7E5EEDULL;

// Bilinear sample at (x, y) in pixel coordinates, coordinates clamped to the image: the border
// repeats, which suits X-rays better than a black fill the real images never have.
float sample(const float* in, std::size_t size, float x, float y) {
  const float hi = static_cast<float>(size - 1);
  x = std::clamp(x, 0.0f, hi);
  y = std::clamp(y, 0.0f, hi);
  const auto x0 = static_cast<std::size_t>(x);
  const auto y0 = static_cast<std::size_t>(y);
  const std::size_t x1 = std::min(x0 + 1, size - 1);
  const std::size_t y1 = std::min(y0 + 1, size - 1);
  const float tx = x - static_cast<float>(x0);
  const float ty = y - static_cast<float>(y0);
  const float top = in[y0 * size + x0] * (1.0f - tx) + in[y0 * size + x1] * tx;
  const float bottom = in[y1 * size + x0] * (1.0f - tx) + in[y1 * size + x1] * tx;
  return top * (1.0f - ty) + bottom * ty;
}

}  // namespace

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t tag, std::uint64_t a, std::uint64_t b) {
  // Each input goes through a full SplitMix64 mix before the next is folded in, so nearby
  // (a, b) pairs give unrelated seeds.
  std::uint64_t h = SplitMix64(seed ^ tag).next();
  h = SplitMix64(h ^ a).next();
  return SplitMix64(h ^ b).next();
}

std::uint64_t augment_seed(std::uint64_t job_seed, std::uint64_t epoch, std::uint64_t index) {
  return derive_seed(job_seed, kAugmentTag, epoch, index);
}

void augment_image(const float* in, std::size_t size, const AugmentParams& params,
                   std::uint64_t seed, float* out) {
  SplitMix64 rng(seed);
  const float side = static_cast<float>(size);
  const float shift_x = rng.uniform_symmetric(params.max_shift) * side;
  const float shift_y = rng.uniform_symmetric(params.max_shift) * side;
  const float angle =
      rng.uniform_symmetric(params.max_rotation_degrees) * (std::numbers::pi_v<float> / 180.0f);
  const float brightness = rng.uniform_symmetric(params.max_brightness);
  const float contrast = 1.0f + rng.uniform_symmetric(params.max_contrast);

  // Inverse map: output pixel p reads the input at R(-angle) (p - centre - shift) + centre.
  const float c = std::cos(angle), s = std::sin(angle);
  const float centre = (side - 1.0f) * 0.5f;
  double sum = 0.0;
  for (std::size_t y = 0; y < size; ++y) {
    const float dy = static_cast<float>(y) - centre - shift_y;
    for (std::size_t x = 0; x < size; ++x) {
      const float dx = static_cast<float>(x) - centre - shift_x;
      const float v = sample(in, size, c * dx + s * dy + centre, -s * dx + c * dy + centre);
      out[y * size + x] = v;
      sum += v;
    }
  }
  const auto mean = static_cast<float>(sum / static_cast<double>(size * size));
  for (std::size_t i = 0; i < size * size; ++i)
    out[i] = std::clamp((out[i] - mean) * contrast + mean + brightness, 0.0f, 1.0f);
}

}  // namespace mls::cnn
