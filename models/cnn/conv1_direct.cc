#include "models/cnn/conv1_direct.h"

#include <algorithm>
#include <vector>

#include "models/cnn/avx2.h"
#include "models/cnn/avx512.h"

namespace mls::cnn {

#if defined(__x86_64__)

namespace {

// 16 channels of the conv output at (y, x), all nine taps inside the image.
MLS_CNN_AVX512 __m512 interior_pixel(const float* x, std::size_t side, std::size_t y,
                                     std::size_t col, const __m512* taps) {
  const float* r0 = x + (y - 1) * side + (col - 1);
  const float* r1 = r0 + side;
  const float* r2 = r1 + side;
  __m512 acc = _mm512_mul_ps(_mm512_set1_ps(r0[0]), taps[0]);
  acc = _mm512_fmadd_ps(_mm512_set1_ps(r0[1]), taps[1], acc);
  acc = _mm512_fmadd_ps(_mm512_set1_ps(r0[2]), taps[2], acc);
  acc = _mm512_fmadd_ps(_mm512_set1_ps(r1[0]), taps[3], acc);
  acc = _mm512_fmadd_ps(_mm512_set1_ps(r1[1]), taps[4], acc);
  acc = _mm512_fmadd_ps(_mm512_set1_ps(r1[2]), taps[5], acc);
  acc = _mm512_fmadd_ps(_mm512_set1_ps(r2[0]), taps[6], acc);
  acc = _mm512_fmadd_ps(_mm512_set1_ps(r2[1]), taps[7], acc);
  return _mm512_fmadd_ps(_mm512_set1_ps(r2[2]), taps[8], acc);
}

// The same at any (y, x): taps over the zero padding are skipped.
MLS_CNN_AVX512 __m512 any_pixel(const float* x, std::size_t side, std::size_t y, std::size_t col,
                                const __m512* taps) {
  __m512 acc = _mm512_setzero_ps();
  for (std::size_t ky = 0; ky < 3; ++ky) {
    if (y + ky == 0 || y + ky > side) continue;
    const float* row = x + (y + ky - 1) * side;
    for (std::size_t kx = 0; kx < 3; ++kx) {
      if (col + kx == 0 || col + kx > side) continue;
      acc = _mm512_fmadd_ps(_mm512_set1_ps(row[col + kx - 1]), taps[ky * 3 + kx], acc);
    }
  }
  return acc;
}

// One image, one block of 16 channels.
MLS_CNN_AVX512 void image_block(const float* x, const float* w, const float* bias, std::size_t side,
                                std::size_t c_out, float* y) {
  __m512 taps[9];
  for (std::size_t t = 0; t < 9; ++t)
    taps[t] = _mm512_loadu_ps(w + t * c_out);
  const __m512 b = _mm512_loadu_ps(bias);
  const __m512 zero = _mm512_setzero_ps();
  const std::size_t half = side / 2;
  for (std::size_t py = 0; py < half; ++py) {
    const std::size_t y0 = 2 * py;
    const bool rows_inside = y0 >= 1 && y0 + 2 < side;
    for (std::size_t px = 0; px < half; ++px) {
      const std::size_t x0 = 2 * px;
      __m512 top_left, top_right, bottom_left, bottom_right;
      if (rows_inside && x0 >= 1 && x0 + 2 < side) {
        top_left = interior_pixel(x, side, y0, x0, taps);
        top_right = interior_pixel(x, side, y0, x0 + 1, taps);
        bottom_left = interior_pixel(x, side, y0 + 1, x0, taps);
        bottom_right = interior_pixel(x, side, y0 + 1, x0 + 1, taps);
      } else {
        top_left = any_pixel(x, side, y0, x0, taps);
        top_right = any_pixel(x, side, y0, x0 + 1, taps);
        bottom_left = any_pixel(x, side, y0 + 1, x0, taps);
        bottom_right = any_pixel(x, side, y0 + 1, x0 + 1, taps);
      }
      // The same order of operations as bias_relu_maxpool2x2_forward: max, then bias, then ReLU.
      const __m512 m = avx512::max16(avx512::max16(top_left, top_right),
                                     avx512::max16(bottom_left, bottom_right));
      _mm512_storeu_ps(y + (py * half + px) * c_out, avx512::max16(_mm512_add_ps(m, b), zero));
    }
  }
}

// The AVX2 version, 8 channels at a time, over a copy of the image with its zero padding written
// out (xp, rows of side + 2): border windows then take the interior path too, where the AVX-512
// loop branches per tap. A padded tap adds an exact zero, so each value has the same products and
// sums in the same order as interior_pixel / any_pixel (up to the sign of an exact zero). The
// four pixels of a window go tap by tap, the nine taps staying in registers with the four sums
// and a broadcast: 14 of the 16 vector registers.
MLS_CNN_AVX2 void image_block_avx2(const float* xp, std::size_t half, const float* w,
                                   const float* bias, std::size_t c_out, float* y) {
  const std::size_t stride = 2 * half + 2;
  __m256 taps[9];
#pragma GCC unroll 9
  for (std::size_t t = 0; t < 9; ++t)
    taps[t] = _mm256_loadu_ps(w + t * c_out);
  const __m256 b = _mm256_loadu_ps(bias);
  const __m256 zero = _mm256_setzero_ps();
  for (std::size_t py = 0; py < half; ++py) {
    for (std::size_t px = 0; px < half; ++px) {
      const float* patch = xp + 2 * py * stride + 2 * px;  // the window's 4x4 input patch
      __m256 acc[4];
#pragma GCC unroll 4
      for (std::size_t q = 0; q < 4; ++q)
        acc[q] = _mm256_mul_ps(_mm256_broadcast_ss(patch + (q / 2) * stride + q % 2), taps[0]);
#pragma GCC unroll 9
      for (std::size_t t = 1; t < 9; ++t) {
#pragma GCC unroll 4
        for (std::size_t q = 0; q < 4; ++q) {
          const float* in = patch + (t / 3 + q / 2) * stride + t % 3 + q % 2;
          acc[q] = _mm256_fmadd_ps(_mm256_broadcast_ss(in), taps[t], acc[q]);
        }
      }
      // The same order of operations as bias_relu_maxpool2x2_forward: max, then bias, then ReLU.
      const __m256 m = _mm256_max_ps(_mm256_max_ps(acc[0], acc[1]), _mm256_max_ps(acc[2], acc[3]));
      _mm256_storeu_ps(y + (py * half + px) * c_out, _mm256_max_ps(_mm256_add_ps(m, b), zero));
    }
  }
}

}  // namespace

bool conv1_direct_available(std::size_t c_out) {
  if (c_out == 0) return false;
  if (avx512::cpu_has_avx512f()) return c_out % 16 == 0;
  return avx2::cpu_has_avx2_fma() && c_out % 8 == 0;
}

void conv1_bias_relu_pool(const float* x, const float* w, const float* bias, std::size_t n,
                          std::size_t side, std::size_t c_out, float* y) {
  const std::size_t half = side / 2;
  if (avx512::cpu_has_avx512f()) {
    for (std::size_t img = 0; img < n; ++img) {
      for (std::size_t c = 0; c < c_out; c += 16) {
        image_block(x + img * side * side, w + c, bias + c, side, c_out,
                    y + img * half * half * c_out + c);
      }
    }
    return;
  }
  if (half == 0) return;
  // Row and column r + 1 of the padded copy is the image's r, for r up to 2 half (an odd side's
  // last row and column are taps of the last windows, not padding); the rest stays zero.
  const std::size_t stride = 2 * half + 2, used = std::min(side, 2 * half + 1);
  thread_local std::vector<float> padded;
  padded.assign(stride * stride, 0.0f);
  for (std::size_t img = 0; img < n; ++img) {
    const float* xi = x + img * side * side;
    for (std::size_t r = 0; r < used; ++r)
      std::copy(xi + r * side, xi + r * side + used, padded.begin() + (r + 1) * stride + 1);
    for (std::size_t c = 0; c < c_out; c += 8)
      image_block_avx2(padded.data(), half, w + c, bias + c, c_out,
                       y + img * half * half * c_out + c);
  }
}

#else

bool conv1_direct_available(std::size_t) {
  return false;
}

void conv1_bias_relu_pool(const float*, const float*, const float*, std::size_t, std::size_t,
                          std::size_t, float*) {}

#endif

}  // namespace mls::cnn
