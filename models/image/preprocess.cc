#include "models/image/preprocess.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace mls {
namespace {

// Calls f(source_index, weight) for every source sample that output sample `i` draws on, when an
// axis of `src` samples becomes `dst` samples. Computed on the fly: no per-image tables, so a
// 40-megapixel strip costs no more memory than its output.
template <class F>
void for_each_tap(std::size_t i, std::size_t src, std::size_t dst, F&& f) {
  if (src == dst) {
    f(i, 1.0);
  } else if (src > dst) {  // shrink: area averaging over [lo, hi) in source coordinates
    const double scale = static_cast<double>(src) / static_cast<double>(dst);
    const double lo = static_cast<double>(i) * scale;
    const double hi = std::min(static_cast<double>(i + 1) * scale, static_cast<double>(src));
    const auto first = static_cast<std::size_t>(std::floor(lo));
    const auto last = std::min(static_cast<std::size_t>(std::ceil(hi)), src);  // exclusive
    for (std::size_t j = first; j < last; ++j) {
      const double overlap =
          std::min(hi, static_cast<double>(j + 1)) - std::max(lo, static_cast<double>(j));
      if (overlap > 0) f(j, overlap / scale);
    }
  } else {  // enlarge: bilinear, half-pixel centres, clamped at the edges
    const double x =
        (static_cast<double>(i) + 0.5) * static_cast<double>(src) / static_cast<double>(dst) - 0.5;
    const double clamped = std::clamp(x, 0.0, static_cast<double>(src - 1));
    const auto j0 = static_cast<std::size_t>(std::floor(clamped));
    const double t = clamped - static_cast<double>(j0);
    if (t == 0.0 || j0 + 1 >= src) {
      f(j0, 1.0);
    } else {
      f(j0, 1.0 - t);
      f(j0 + 1, t);
    }
  }
}

const std::array<float, 256>& u8_to_unit() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int p = 0; p < 256; ++p)
      t[static_cast<std::size_t>(p)] = static_cast<float>(p) / 255.0f;
    return t;
  }();
  return table;
}

// One source row resampled horizontally to `size` floats in [0, 1].
void resample_row(const GrayView& image, std::size_t y, std::size_t size, float* out) {
  const auto& unit = u8_to_unit();
  const std::uint8_t* u8 = image.u8 != nullptr ? image.u8 + y * image.width : nullptr;
  const float* f32 = image.f32 != nullptr ? image.f32 + y * image.width : nullptr;
  for (std::size_t i = 0; i < size; ++i) {
    double acc = 0.0;  // double: a wide image sums thousands of terms per output pixel
    for_each_tap(i, image.width, size, [&](std::size_t j, double w) {
      acc += w * (u8 != nullptr ? unit[u8[j]] : f32[j]);
    });
    out[i] = static_cast<float>(acc);
  }
}

}  // namespace

Status preprocess_image(const GrayView& image, const PreprocessSpec& spec, std::span<float> out) {
  const std::size_t size = spec.size;
  if (size == 0 || out.size() != size * size) {
    return make_error(ErrorCode::kInternal, "preprocess: output buffer does not hold size x size");
  }
  if (!(spec.std > 0.0f) || !std::isfinite(spec.std) || !std::isfinite(spec.mean)) {
    return make_error(ErrorCode::kInternal, "preprocess: normalisation std must be positive");
  }
  if (image.width == 0 || image.height == 0 || (image.u8 == nullptr) == (image.f32 == nullptr)) {
    return make_error(ErrorCode::kInvalidArgument, "image has no pixels");
  }
  std::vector<double> acc(size * size, 0.0);
  std::vector<float> row(size);
  std::size_t row_y = image.height;  // the source row `row` holds (none yet)
  for (std::size_t i = 0; i < size; ++i) {
    double* dst = acc.data() + i * size;
    for_each_tap(i, image.height, size, [&](std::size_t y, double w) {
      if (y != row_y) {
        resample_row(image, y, size, row.data());
        row_y = y;
      }
      for (std::size_t x = 0; x < size; ++x)
        dst[x] += w * row[x];
    });
  }
  for (std::size_t k = 0; k < out.size(); ++k) {
    const float v = (static_cast<float>(acc[k]) - spec.mean) / spec.std;
    if (!std::isfinite(v)) {
      return make_error(ErrorCode::kInvalidArgument, "image has a non-finite pixel value");
    }
    out[k] = v;
  }
  return Ok{};
}

}  // namespace mls
