#include "models/cnn/cnn_layers.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "models/cnn/cnn_gemm.h"
#include "models/cnn/cnn_random.h"

namespace mls::cnn {

namespace {

// Copies and clears of n floats. With n a compile-time constant these expand inline to a few vector
// moves, where std::copy_n (a memmove) would be a library call per 3×3 tap row.
inline void copy_floats(const float* src, std::size_t n, float* dst) {
  std::memcpy(dst, src, n * sizeof(float));
}
inline void zero_floats(float* dst, std::size_t n) {
  std::memset(dst, 0, n * sizeof(float));
}

// One image. The three taps of a kernel row are adjacent pixels of one input row, and adjacent
// in the patch too, so each (pixel, kernel row) is one run of 3*c floats (2*c next to c zeros at
// the left and right edges). kC != 0 fixes c at compile time so the runs become straight moves;
// the hot case is conv1's single channel, where a run is three floats.
template <std::size_t kC>
void im2col3x3_image(const float* x, std::size_t h, std::size_t w, std::size_t c_any, float* col) {
  const std::size_t c = kC != 0 ? kC : c_any;
  const std::size_t patch = 9 * c, run = 3 * c;
  for (std::size_t oy = 0; oy < h; ++oy) {
    float* out = col + oy * w * patch;
    for (std::size_t ky = 0; ky < 3; ++ky) {
      float* dst = out + ky * run;
      if (oy + ky == 0 || oy + ky > h) {  // the kernel row lies in the zero padding
        for (std::size_t ox = 0; ox < w; ++ox)
          zero_floats(dst + ox * patch, run);
        continue;
      }
      const float* src = x + (oy + ky - 1) * w * c;
      if (w == 1) {
        zero_floats(dst, c);
        copy_floats(src, c, dst + c);
        zero_floats(dst + 2 * c, c);
        continue;
      }
      zero_floats(dst, c);
      copy_floats(src, 2 * c, dst + c);
      for (std::size_t ox = 1; ox + 1 < w; ++ox)
        copy_floats(src + (ox - 1) * c, run, dst + ox * patch);
      float* last = dst + (w - 1) * patch;
      copy_floats(src + (w - 2) * c, 2 * c, last);
      zero_floats(last + 2 * c, c);
    }
  }
}

}  // namespace

void im2col3x3(const float* x, const ConvShape& s, float* col) {
  const std::size_t in = s.h * s.w * s.c_in, out = s.h * s.w * s.patch();
  for (std::size_t img = 0; img < s.n; ++img) {
    const float* xi = x + img * in;
    float* ci = col + img * out;
    switch (s.c_in) {
      case 1:
        im2col3x3_image<1>(xi, s.h, s.w, 1, ci);
        break;
      case 16:
        im2col3x3_image<16>(xi, s.h, s.w, 16, ci);
        break;
      default:
        im2col3x3_image<0>(xi, s.h, s.w, s.c_in, ci);
    }
  }
}

void col2im3x3(const float* dcol, const ConvShape& s, float* dx) {
  const std::size_t c = s.c_in;
  const std::size_t patch = s.patch();
  std::fill(dx, dx + s.n * s.h * s.w * c, 0.0f);
  for (std::size_t img = 0; img < s.n; ++img) {
    float* dxi = dx + img * s.h * s.w * c;
    for (std::size_t oy = 0; oy < s.h; ++oy) {
      for (std::size_t ox = 0; ox < s.w; ++ox) {
        const float* row = dcol + ((img * s.h + oy) * s.w + ox) * patch;
        for (std::size_t ky = 0; ky < 3; ++ky) {
          const std::ptrdiff_t iy = static_cast<std::ptrdiff_t>(oy + ky) - 1;
          if (iy < 0 || iy >= static_cast<std::ptrdiff_t>(s.h)) continue;
          for (std::size_t kx = 0; kx < 3; ++kx) {
            const std::ptrdiff_t ix = static_cast<std::ptrdiff_t>(ox + kx) - 1;
            if (ix < 0 || ix >= static_cast<std::ptrdiff_t>(s.w)) continue;
            const float* src = row + (ky * 3 + kx) * c;
            float* dst = dxi + (static_cast<std::size_t>(iy) * s.w + ix) * c;
            for (std::size_t ci = 0; ci < c; ++ci)
              dst[ci] += src[ci];
          }
        }
      }
    }
  }
}

namespace {

// y [rows, cols] = bias broadcast over rows; the GEMM then adds its product with beta = 1.
void fill_bias(const float* b, std::size_t rows, std::size_t cols, float* y) {
  for (std::size_t r = 0; r < rows; ++r)
    std::copy(b, b + cols, y + r * cols);
}

// db [cols] = column sums of dy [rows, cols].
void column_sums(const float* dy, std::size_t rows, std::size_t cols, float* db) {
  std::fill(db, db + cols, 0.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = dy + r * cols;
    for (std::size_t j = 0; j < cols; ++j)
      db[j] += row[j];
  }
}

}  // namespace

void conv3x3_forward(const float* x, const float* w, const float* b, const ConvShape& s, float* col,
                     float* y) {
  im2col3x3(x, s, col);
  if (b != nullptr) fill_bias(b, s.rows(), s.c_out, y);
  // y [rows, c_out] (+)= col [rows, patch] · w [patch, c_out]
  gemm(false, false, s.rows(), s.c_out, s.patch(), 1.0f, col, s.patch(), w, s.c_out,
       b != nullptr ? 1.0f : 0.0f, y, s.c_out);
}

void conv3x3_forward_naive(const float* x, const float* w, const float* b, const ConvShape& s,
                           float* y) {
  for (std::size_t img = 0; img < s.n; ++img) {
    for (std::size_t oy = 0; oy < s.h; ++oy) {
      for (std::size_t ox = 0; ox < s.w; ++ox) {
        for (std::size_t co = 0; co < s.c_out; ++co) {
          double acc = b[co];
          for (std::size_t ky = 0; ky < 3; ++ky) {
            for (std::size_t kx = 0; kx < 3; ++kx) {
              const std::ptrdiff_t iy = static_cast<std::ptrdiff_t>(oy + ky) - 1;
              const std::ptrdiff_t ix = static_cast<std::ptrdiff_t>(ox + kx) - 1;
              if (iy < 0 || ix < 0 || iy >= static_cast<std::ptrdiff_t>(s.h) ||
                  ix >= static_cast<std::ptrdiff_t>(s.w)) {
                continue;
              }
              for (std::size_t ci = 0; ci < s.c_in; ++ci) {
                const float xv =
                    x[((img * s.h + static_cast<std::size_t>(iy)) * s.w + ix) * s.c_in + ci];
                const float wv = w[((ky * 3 + kx) * s.c_in + ci) * s.c_out + co];
                acc += static_cast<double>(xv) * wv;
              }
            }
          }
          y[((img * s.h + oy) * s.w + ox) * s.c_out + co] = static_cast<float>(acc);
        }
      }
    }
  }
}

void conv3x3_backward(const float* dy, const float* col, const float* w, const ConvShape& s,
                      float* dw, float* db, float* dcol, float* dx) {
  // dw [patch, c_out] = col^T [patch, rows] · dy [rows, c_out]
  gemm(true, false, s.patch(), s.c_out, s.rows(), 1.0f, col, s.patch(), dy, s.c_out, 0.0f, dw,
       s.c_out);
  column_sums(dy, s.rows(), s.c_out, db);
  if (dx == nullptr) return;
  // dcol [rows, patch] = dy [rows, c_out] · w^T [c_out, patch]
  gemm(false, true, s.rows(), s.patch(), s.c_out, 1.0f, dy, s.c_out, w, s.c_out, 0.0f, dcol,
       s.patch());
  col2im3x3(dcol, s, dx);
}

void relu_forward(float* x, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(const float* y, float* dy, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void maxpool2x2_forward(const float* x, const PoolShape& s, float* y, std::uint32_t* argmax) {
  const std::size_t oh = s.out_h(), ow = s.out_w(), c = s.c;
  for (std::size_t img = 0; img < s.n; ++img) {
    for (std::size_t oy = 0; oy < oh; ++oy) {
      for (std::size_t ox = 0; ox < ow; ++ox) {
        const std::size_t out = ((img * oh + oy) * ow + ox) * c;
        for (std::size_t ci = 0; ci < c; ++ci) {
          float best = -std::numeric_limits<float>::infinity();
          std::size_t best_at = 0;
          for (std::size_t dy = 0; dy < 2; ++dy) {
            for (std::size_t dx = 0; dx < 2; ++dx) {
              const std::size_t at = ((img * s.h + 2 * oy + dy) * s.w + 2 * ox + dx) * c + ci;
              if (x[at] > best || (dy == 0 && dx == 0)) {  // ties: the first in scan order
                best = x[at];
                best_at = at;
              }
            }
          }
          y[out + ci] = best;
          argmax[out + ci] = static_cast<std::uint32_t>(best_at);
        }
      }
    }
  }
}

void maxpool2x2_backward(const float* dy, const std::uint32_t* argmax, const PoolShape& s,
                         float* dx) {
  std::fill(dx, dx + s.in_size(), 0.0f);
  const std::size_t out = s.out_size();
  for (std::size_t i = 0; i < out; ++i)
    dx[argmax[i]] += dy[i];
}

namespace {

// One output row of bias_relu_maxpool2x2_forward; kC != 0 fixes c so the channel loop unrolls.
template <std::size_t kC>
void bias_relu_maxpool_row(const float* top, const float* bottom, const float* bias, std::size_t ow,
                           std::size_t c_any, float* y) {
  const std::size_t c = kC != 0 ? kC : c_any;
  for (std::size_t ox = 0; ox < ow; ++ox) {
    const float* a = top + 2 * ox * c;
    const float* b = bottom + 2 * ox * c;
    float* d = y + ox * c;
    for (std::size_t ci = 0; ci < c; ++ci) {
      const float m = std::max(std::max(a[ci], a[c + ci]), std::max(b[ci], b[c + ci])) + bias[ci];
      d[ci] = m > 0.0f ? m : 0.0f;
    }
  }
}

}  // namespace

void bias_relu_maxpool2x2_forward(const float* x, const float* bias, const PoolShape& s, float* y) {
  const std::size_t oh = s.out_h(), ow = s.out_w(), c = s.c;
  const std::size_t in_row = s.w * c, out_row = ow * c;
  for (std::size_t img = 0; img < s.n; ++img) {
    const float* xi = x + img * s.h * in_row;
    float* yi = y + img * oh * out_row;
    for (std::size_t oy = 0; oy < oh; ++oy) {
      const float* top = xi + 2 * oy * in_row;
      float* row = yi + oy * out_row;
      switch (c) {
        case 16:
          bias_relu_maxpool_row<16>(top, top + in_row, bias, ow, c, row);
          break;
        case 32:
          bias_relu_maxpool_row<32>(top, top + in_row, bias, ow, c, row);
          break;
        default:
          bias_relu_maxpool_row<0>(top, top + in_row, bias, ow, c, row);
      }
    }
  }
}

void dense_forward(const float* x, const float* w, const float* b, std::size_t n, std::size_t in,
                   std::size_t out, float* y) {
  fill_bias(b, n, out, y);
  gemm(false, false, n, out, in, 1.0f, x, in, w, out, 1.0f, y, out);
}

void dense_backward(const float* dy, const float* x, const float* w, std::size_t n, std::size_t in,
                    std::size_t out, float* dw, float* db, float* dx) {
  // dw [in, out] = x^T [in, n] · dy [n, out]
  gemm(true, false, in, out, n, 1.0f, x, in, dy, out, 0.0f, dw, out);
  column_sums(dy, n, out, db);
  // dx [n, in] = dy [n, out] · w^T [out, in]
  if (dx != nullptr) gemm(false, true, n, in, out, 1.0f, dy, out, w, out, 0.0f, dx, in);
}

void dropout_forward(float* x, std::size_t count, float rate, std::uint64_t seed, float* mask) {
  SplitMix64 rng(seed);
  const float keep_scale = rate > 0.0f ? 1.0f / (1.0f - rate) : 1.0f;
  for (std::size_t i = 0; i < count; ++i) {
    mask[i] = rng.uniform01() < rate ? 0.0f : keep_scale;
    x[i] *= mask[i];
  }
}

void dropout_backward(const float* mask, float* dy, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    dy[i] *= mask[i];
}

void softmax_rows(float* z, std::size_t n, std::size_t k) {
  for (std::size_t r = 0; r < n; ++r) {
    float* row = z + r * k;
    const float m = *std::max_element(row, row + k);
    float sum = 0.0f;
    for (std::size_t j = 0; j < k; ++j) {
      row[j] = std::exp(row[j] - m);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (std::size_t j = 0; j < k; ++j)
      row[j] *= inv;
  }
}

float softmax_cross_entropy(const float* logits, const int* labels, std::size_t n, std::size_t k,
                            float* probs, float* dlogits) {
  std::copy(logits, logits + n * k, probs);
  softmax_rows(probs, n, k);
  double loss = 0.0;
  const float inv_n = 1.0f / static_cast<float>(n);
  for (std::size_t r = 0; r < n; ++r) {
    const float* p = probs + r * k;
    const auto label = static_cast<std::size_t>(labels[r]);
    // log-softmax from the logits directly: exact even when p underflows to 0.
    const float* z = logits + r * k;
    const float m = *std::max_element(z, z + k);
    double sum = 0.0;
    for (std::size_t j = 0; j < k; ++j)
      sum += std::exp(static_cast<double>(z[j]) - m);
    loss += std::log(sum) - (static_cast<double>(z[label]) - m);
    if (dlogits != nullptr) {
      float* d = dlogits + r * k;
      for (std::size_t j = 0; j < k; ++j)
        d[j] = (p[j] - (j == label ? 1.0f : 0.0f)) * inv_n;
    }
  }
  return static_cast<float>(loss / static_cast<double>(n));
}

}  // namespace mls::cnn
