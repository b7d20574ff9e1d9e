#include "models/cnn/winograd_conv.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "models/cnn/avx2.h"
#include "models/cnn/avx512.h"
#include "models/cnn/cnn_gemm.h"

namespace mls::cnn {
namespace {

constexpr std::size_t kTerms = 16;  // a 4x4 transformed tile

// The 4x4 input tile of output tile (ty, tx), rows and columns 2t-1 .. 2t+2, as d [16, c] with
// the zero padding filled in.
void gather_tile(const float* x, std::size_t side, std::size_t c, std::size_t ty, std::size_t tx,
                 float* d) {
  for (std::size_t r = 0; r < 4; ++r) {
    const std::size_t iy = 2 * ty + r;  // + 1 for the padding: row iy - 1 of x
    for (std::size_t k = 0; k < 4; ++k) {
      const std::size_t ix = 2 * tx + k;
      float* dst = d + (r * 4 + k) * c;
      if (iy == 0 || iy > side || ix == 0 || ix > side) {
        std::memset(dst, 0, c * sizeof(float));
      } else {
        std::memcpy(dst, x + ((iy - 1) * side + (ix - 1)) * c, c * sizeof(float));
      }
    }
  }
}

// v = B^T d B for every channel, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; term k of the
// tile goes to v[k * stride + ci].
void transform_input(const float* d, std::size_t c, float* v, std::size_t stride) {
  for (std::size_t ci = 0; ci < c; ++ci) {
    float t[4][4];
    for (std::size_t k = 0; k < 4; ++k) {
      const float d0 = d[(0 + k) * c + ci], d1 = d[(4 + k) * c + ci];
      const float d2 = d[(8 + k) * c + ci], d3 = d[(12 + k) * c + ci];
      t[0][k] = d0 - d2;
      t[1][k] = d1 + d2;
      t[2][k] = d2 - d1;
      t[3][k] = d1 - d3;
    }
    for (std::size_t r = 0; r < 4; ++r) {
      v[(r * 4 + 0) * stride + ci] = t[r][0] - t[r][2];
      v[(r * 4 + 1) * stride + ci] = t[r][1] + t[r][2];
      v[(r * 4 + 2) * stride + ci] = t[r][2] - t[r][1];
      v[(r * 4 + 3) * stride + ci] = t[r][1] - t[r][3];
    }
  }
}

// y = A^T m A for every channel, A^T = [1 1 1 0; 0 1 -1 -1], then the tile's max, the bias and
// the ReLU. Term k of the tile is m[k * stride + co].
void transform_output_pool(const float* m, std::size_t stride, const float* bias, std::size_t c,
                           float* y) {
  for (std::size_t co = 0; co < c; ++co) {
    float s0[4], s1[4];
    for (std::size_t k = 0; k < 4; ++k) {
      const float m0 = m[(0 + k) * stride + co], m1 = m[(4 + k) * stride + co];
      const float m2 = m[(8 + k) * stride + co], m3 = m[(12 + k) * stride + co];
      s0[k] = m0 + m1 + m2;
      s1[k] = m1 - m2 - m3;
    }
    const float y00 = s0[0] + s0[1] + s0[2], y01 = s0[1] - s0[2] - s0[3];
    const float y10 = s1[0] + s1[1] + s1[2], y11 = s1[1] - s1[2] - s1[3];
    const float v = std::max(std::max(y00, y01), std::max(y10, y11)) + bias[co];
    y[co] = v > 0.0f ? v : 0.0f;
  }
}

#if defined(__x86_64__)

// gather_tile + transform_input for 16 channels at a time, straight from x (c % 16 == 0).
MLS_CNN_AVX512 void transform_input_avx512(const float* x, std::size_t side, std::size_t c,
                                           std::size_t ty, std::size_t tx, float* v,
                                           std::size_t stride) {
  for (std::size_t cb = 0; cb < c; cb += 16) {
    __m512 d[4][4];
    for (std::size_t r = 0; r < 4; ++r) {
      const std::size_t iy = 2 * ty + r;
      for (std::size_t k = 0; k < 4; ++k) {
        const std::size_t ix = 2 * tx + k;
        d[r][k] = (iy == 0 || iy > side || ix == 0 || ix > side)
                      ? _mm512_setzero_ps()
                      : _mm512_loadu_ps(x + ((iy - 1) * side + (ix - 1)) * c + cb);
      }
    }
    __m512 t[4][4];
    for (std::size_t k = 0; k < 4; ++k) {
      t[0][k] = _mm512_sub_ps(d[0][k], d[2][k]);
      t[1][k] = _mm512_add_ps(d[1][k], d[2][k]);
      t[2][k] = _mm512_sub_ps(d[2][k], d[1][k]);
      t[3][k] = _mm512_sub_ps(d[1][k], d[3][k]);
    }
    for (std::size_t r = 0; r < 4; ++r) {
      _mm512_storeu_ps(v + (r * 4 + 0) * stride + cb, _mm512_sub_ps(t[r][0], t[r][2]));
      _mm512_storeu_ps(v + (r * 4 + 1) * stride + cb, _mm512_add_ps(t[r][1], t[r][2]));
      _mm512_storeu_ps(v + (r * 4 + 2) * stride + cb, _mm512_sub_ps(t[r][2], t[r][1]));
      _mm512_storeu_ps(v + (r * 4 + 3) * stride + cb, _mm512_sub_ps(t[r][1], t[r][3]));
    }
  }
}

// transform_output_pool for 16 channels at a time (c % 16 == 0).
MLS_CNN_AVX512 void transform_output_pool_avx512(const float* m, std::size_t stride,
                                                 const float* bias, std::size_t c, float* y) {
  const __m512 zero = _mm512_setzero_ps();
  for (std::size_t cb = 0; cb < c; cb += 16) {
    __m512 s0[4], s1[4];
    for (std::size_t k = 0; k < 4; ++k) {
      const __m512 m0 = _mm512_loadu_ps(m + (0 + k) * stride + cb);
      const __m512 m1 = _mm512_loadu_ps(m + (4 + k) * stride + cb);
      const __m512 m2 = _mm512_loadu_ps(m + (8 + k) * stride + cb);
      const __m512 m3 = _mm512_loadu_ps(m + (12 + k) * stride + cb);
      s0[k] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
      s1[k] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    const __m512 y00 = _mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]);
    const __m512 y01 = _mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]);
    const __m512 y10 = _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]);
    const __m512 y11 = _mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]);
    const __m512 top = avx512::max16(avx512::max16(y00, y01), avx512::max16(y10, y11));
    _mm512_storeu_ps(y + cb, avx512::max16(_mm512_add_ps(top, _mm512_loadu_ps(bias + cb)), zero));
  }
}

bool avx512_fits(std::size_t c_in, std::size_t c_out) {
  return avx512::cpu_has_avx512f() && c_in % 16 == 0 && c_out % 16 == 0;
}

// c [kR, 16 kC] = a [kR, k] · b [k, 16 kC] (leading dimensions lda, ldb, ldc), each sum in index
// order from zero: the AVX-512 twin of gemm_block_avx2 below. With 32 vector registers a block of
// up to 14 rows keeps its 2 x 14 accumulators, the two b vectors and a broadcast in registers.
template <std::size_t kR, std::size_t kC>
MLS_CNN_AVX512 void gemm_block_avx512(const float* a, std::size_t lda, const float* b,
                                      std::size_t ldb, std::size_t k, float* c, std::size_t ldc) {
  __m512 acc[kR][kC];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < kR; ++r) {
#pragma GCC unroll 2
    for (std::size_t j = 0; j < kC; ++j)
      acc[r][j] = _mm512_setzero_ps();
  }
  for (std::size_t p = 0; p < k; ++p) {
    __m512 bv[kC];
#pragma GCC unroll 2
    for (std::size_t j = 0; j < kC; ++j)
      bv[j] = _mm512_loadu_ps(b + p * ldb + 16 * j);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < kR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + p]);
#pragma GCC unroll 2
      for (std::size_t j = 0; j < kC; ++j)
        acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 16
  for (std::size_t r = 0; r < kR; ++r) {
#pragma GCC unroll 2
    for (std::size_t j = 0; j < kC; ++j)
      _mm512_storeu_ps(c + r * ldc + 16 * j, acc[r][j]);
  }
}

constexpr std::size_t kRows512 = 14;

using GemmBlock512 = void (*)(const float*, std::size_t, const float*, std::size_t, std::size_t,
                              float*, std::size_t);

// gemm_block_avx512<rows, kC> for rows 1 .. kRows512, indexed by rows - 1.
template <std::size_t kC, std::size_t... kR>
constexpr std::array<GemmBlock512, sizeof...(kR)> gemm_blocks_avx512(std::index_sequence<kR...>) {
  return {&gemm_block_avx512<kR + 1, kC>...};
}

// c [m, n] = a [m, k] · b [k, n], all row-major and dense, m <= kRows512, n % 16 == 0.
MLS_CNN_AVX512 void gemm_avx512(std::size_t m, std::size_t n, std::size_t k, const float* a,
                                const float* b, float* c) {
  static constexpr auto pairs = gemm_blocks_avx512<2>(std::make_index_sequence<kRows512>());
  static constexpr auto singles = gemm_blocks_avx512<1>(std::make_index_sequence<kRows512>());
  std::size_t col = 0;
  for (; col + 32 <= n; col += 32)
    pairs[m - 1](a, k, b + col, n, k, c + col, n);
  if (col < n) singles[m - 1](a, k, b + col, n, k, c + col, n);
}

// The whole block with AVX-512, a block of at most kRows512 tiles at a time: transform, 16
// products, transform back, as conv_pool_avx2 does and for the same reason (the block's v and m,
// 29 KB for the served network at 14 tiles, stay in L1 between the three steps; the whole image's
// would go through L2 and push out the dense layer's weights). The products are ours, not
// OpenBLAS's: 16 calls an image of 49 x 16 by 16 x 32 cost OpenBLAS more in packing and call
// overhead than in multiplying.
MLS_CNN_AVX512 void conv_pool_avx512(const float* x, const float* u, const float* bias,
                                     std::size_t side, std::size_t c_in, std::size_t c_out,
                                     float* v, float* m, float* y) {
  const std::size_t half = side / 2, tiles = half * half;
  // Blocks of nearly equal size (49 tiles: 12, 12, 12, 13).
  const std::size_t blocks = (tiles + kRows512 - 1) / kRows512;
  for (std::size_t blk = 0, start = 0; blk < blocks; ++blk) {
    const std::size_t rows = (tiles - start) / (blocks - blk);
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t t = start + i;
      transform_input_avx512(x, side, c_in, t / half, t % half, v + i * c_in, rows * c_in);
    }
    for (std::size_t k = 0; k < kTerms; ++k) {
      gemm_avx512(rows, c_out, c_in, v + k * rows * c_in, u + k * c_in * c_out,
                  m + k * rows * c_out);
    }
    for (std::size_t i = 0; i < rows; ++i)
      transform_output_pool_avx512(m + i * c_out, rows * c_out, bias, c_out,
                                   y + (start + i) * c_out);
    start += rows;
  }
}

// The AVX2 twins of the two transforms above, 8 channels at a time (c % 8 == 0), with the same
// sums in the same order.
MLS_CNN_AVX2 void transform_input_avx2(const float* x, std::size_t side, std::size_t c,
                                       std::size_t ty, std::size_t tx, float* v,
                                       std::size_t stride) {
  for (std::size_t cb = 0; cb < c; cb += 8) {
    __m256 d[4][4];
    for (std::size_t r = 0; r < 4; ++r) {
      const std::size_t iy = 2 * ty + r;
      for (std::size_t k = 0; k < 4; ++k) {
        const std::size_t ix = 2 * tx + k;
        d[r][k] = (iy == 0 || iy > side || ix == 0 || ix > side)
                      ? _mm256_setzero_ps()
                      : _mm256_loadu_ps(x + ((iy - 1) * side + (ix - 1)) * c + cb);
      }
    }
    __m256 t[4][4];
    for (std::size_t k = 0; k < 4; ++k) {
      t[0][k] = _mm256_sub_ps(d[0][k], d[2][k]);
      t[1][k] = _mm256_add_ps(d[1][k], d[2][k]);
      t[2][k] = _mm256_sub_ps(d[2][k], d[1][k]);
      t[3][k] = _mm256_sub_ps(d[1][k], d[3][k]);
    }
    for (std::size_t r = 0; r < 4; ++r) {
      _mm256_storeu_ps(v + (r * 4 + 0) * stride + cb, _mm256_sub_ps(t[r][0], t[r][2]));
      _mm256_storeu_ps(v + (r * 4 + 1) * stride + cb, _mm256_add_ps(t[r][1], t[r][2]));
      _mm256_storeu_ps(v + (r * 4 + 2) * stride + cb, _mm256_sub_ps(t[r][2], t[r][1]));
      _mm256_storeu_ps(v + (r * 4 + 3) * stride + cb, _mm256_sub_ps(t[r][1], t[r][3]));
    }
  }
}

MLS_CNN_AVX2 void transform_output_pool_avx2(const float* m, std::size_t stride, const float* bias,
                                             std::size_t c, float* y) {
  const __m256 zero = _mm256_setzero_ps();
  for (std::size_t cb = 0; cb < c; cb += 8) {
    __m256 s0[4], s1[4];
    for (std::size_t k = 0; k < 4; ++k) {
      const __m256 m0 = _mm256_loadu_ps(m + (0 + k) * stride + cb);
      const __m256 m1 = _mm256_loadu_ps(m + (4 + k) * stride + cb);
      const __m256 m2 = _mm256_loadu_ps(m + (8 + k) * stride + cb);
      const __m256 m3 = _mm256_loadu_ps(m + (12 + k) * stride + cb);
      s0[k] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
      s1[k] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    const __m256 y00 = _mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]);
    const __m256 y01 = _mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]);
    const __m256 y10 = _mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]);
    const __m256 y11 = _mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]);
    const __m256 top = _mm256_max_ps(_mm256_max_ps(y00, y01), _mm256_max_ps(y10, y11));
    _mm256_storeu_ps(y + cb, _mm256_max_ps(_mm256_add_ps(top, _mm256_loadu_ps(bias + cb)), zero));
  }
}

// c [kR, 8 kC] = a [kR, k] · b [k, 8 kC] (leading dimensions lda, ldb, ldc), each sum in index
// order from zero. 6 x 2 accumulators, 2 b vectors and one broadcast fill 15 of the 16 vector
// registers; OpenBLAS spends more on packing and on zeroing c for these small products (49 x 16
// by 16 x 32 per term and image) than on the multiplications.
template <std::size_t kR, std::size_t kC>
MLS_CNN_AVX2 void gemm_block_avx2(const float* a, std::size_t lda, const float* b, std::size_t ldb,
                                  std::size_t k, float* c, std::size_t ldc) {
  // Unrolled before GCC decides where acc lives: otherwise it stays an array in memory and every
  // multiply-add goes through a store.
  __m256 acc[kR][kC];
#pragma GCC unroll 8
  for (std::size_t r = 0; r < kR; ++r) {
#pragma GCC unroll 2
    for (std::size_t j = 0; j < kC; ++j)
      acc[r][j] = _mm256_setzero_ps();
  }
  for (std::size_t p = 0; p < k; ++p) {
    __m256 bv[kC];
#pragma GCC unroll 2
    for (std::size_t j = 0; j < kC; ++j)
      bv[j] = _mm256_loadu_ps(b + p * ldb + 8 * j);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < kR; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + p);
#pragma GCC unroll 2
      for (std::size_t j = 0; j < kC; ++j)
        acc[r][j] = _mm256_fmadd_ps(av, bv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 8
  for (std::size_t r = 0; r < kR; ++r) {
#pragma GCC unroll 2
    for (std::size_t j = 0; j < kC; ++j)
      _mm256_storeu_ps(c + r * ldc + 8 * j, acc[r][j]);
  }
}

constexpr std::size_t kRows = 6;

template <std::size_t kC>
MLS_CNN_AVX2 void gemm_rows_avx2(std::size_t rows, const float* a, std::size_t lda, const float* b,
                                 std::size_t ldb, std::size_t k, float* c, std::size_t ldc) {
  switch (rows) {
    case 6:
      return gemm_block_avx2<6, kC>(a, lda, b, ldb, k, c, ldc);
    case 5:
      return gemm_block_avx2<5, kC>(a, lda, b, ldb, k, c, ldc);
    case 4:
      return gemm_block_avx2<4, kC>(a, lda, b, ldb, k, c, ldc);
    case 3:
      return gemm_block_avx2<3, kC>(a, lda, b, ldb, k, c, ldc);
    case 2:
      return gemm_block_avx2<2, kC>(a, lda, b, ldb, k, c, ldc);
    default:
      return gemm_block_avx2<1, kC>(a, lda, b, ldb, k, c, ldc);
  }
}

// c [m, n] = a [m, k] · b [k, n], all row-major and dense, n % 8 == 0.
MLS_CNN_AVX2 void gemm_avx2(std::size_t m, std::size_t n, std::size_t k, const float* a,
                            const float* b, float* c) {
  std::size_t col = 0;
  for (; col + 16 <= n; col += 16) {
    for (std::size_t row = 0; row < m; row += kRows)
      gemm_rows_avx2<2>(std::min(kRows, m - row), a + row * k, k, b + col, n, k, c + row * n + col,
                        n);
  }
  if (col < n) {
    for (std::size_t row = 0; row < m; row += kRows)
      gemm_rows_avx2<1>(std::min(kRows, m - row), a + row * k, k, b + col, n, k, c + row * n + col,
                        n);
  }
}

bool avx2_fits(std::size_t c_in, std::size_t c_out) {
  return avx2::cpu_has_avx2_fma() && c_in % 8 == 0 && c_out % 8 == 0;
}

constexpr std::size_t kTileBlock = 12;

// The whole block for AVX2, at most kTileBlock tiles at a time: transform, 16 products, transform
// back. The block's v and m (18 KB for the served network) stay in L1 between the three steps,
// where the whole image's (150 KB) would go through L2, pushing out the dense layer's weights.
MLS_CNN_AVX2 void conv_pool_avx2(const float* x, const float* u, const float* bias,
                                 std::size_t side, std::size_t c_in, std::size_t c_out, float* v,
                                 float* m, float* y) {
  const std::size_t half = side / 2, tiles = half * half;
  // Blocks of nearly equal size (49 tiles: 4 x 10 + 9), so that no block ends with a lone row in
  // gemm_avx2, one chain of dependent multiply-adds waiting on their latency.
  const std::size_t blocks = (tiles + kTileBlock - 1) / kTileBlock;
  for (std::size_t blk = 0, start = 0; blk < blocks; ++blk) {
    const std::size_t rows = (tiles - start) / (blocks - blk);
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t t = start + i;
      transform_input_avx2(x, side, c_in, t / half, t % half, v + i * c_in, rows * c_in);
    }
    for (std::size_t k = 0; k < kTerms; ++k)
      gemm_avx2(rows, c_out, c_in, v + k * rows * c_in, u + k * c_in * c_out, m + k * rows * c_out);
    for (std::size_t i = 0; i < rows; ++i) {
      transform_output_pool_avx2(m + i * c_out, rows * c_out, bias, c_out, y + (start + i) * c_out);
    }
    start += rows;
  }
}

#else

bool avx512_fits(std::size_t, std::size_t) {
  return false;
}
bool avx2_fits(std::size_t, std::size_t) {
  return false;
}
void conv_pool_avx2(const float*, const float*, const float*, std::size_t, std::size_t, std::size_t,
                    float*, float*, float*) {}
void conv_pool_avx512(const float*, const float*, const float*, std::size_t, std::size_t,
                      std::size_t, float*, float*, float*) {}

#endif

}  // namespace

std::vector<float> winograd_filters(const float* w, std::size_t c_in, std::size_t c_out) {
  // G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]; U = G g G^T, in double then rounded once.
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  std::vector<float> u(kTerms * c_in * c_out);
  for (std::size_t ci = 0; ci < c_in; ++ci) {
    for (std::size_t co = 0; co < c_out; ++co) {
      double g[3][3];
      for (std::size_t t = 0; t < 9; ++t)
        g[t / 3][t % 3] = w[(t * c_in + ci) * c_out + co];
      for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
          double sum = 0;
          for (std::size_t a = 0; a < 3; ++a) {
            for (std::size_t b = 0; b < 3; ++b)
              sum += G[i][a] * g[a][b] * G[j][b];
          }
          u[((i * 4 + j) * c_in + ci) * c_out + co] = static_cast<float>(sum);
        }
      }
    }
  }
  return u;
}

std::size_t winograd_scratch_floats(std::size_t side, std::size_t c_in, std::size_t c_out) {
  const std::size_t tiles = (side / 2) * (side / 2);
  return kTerms * c_in + kTerms * tiles * c_in + kTerms * tiles * c_out;
}

void winograd_conv_bias_relu_pool(const float* x, const float* u, const float* bias,
                                  std::size_t side, std::size_t c_in, std::size_t c_out,
                                  float* scratch, float* y) {
  const std::size_t half = side / 2, tiles = half * half;
  if (tiles == 0) return;
  float* d = scratch;                    // [16, c_in]: one input tile
  float* v = d + kTerms * c_in;          // [16, tiles, c_in]
  float* m = v + kTerms * tiles * c_in;  // [16, tiles, c_out]
  if (avx512_fits(c_in, c_out)) return conv_pool_avx512(x, u, bias, side, c_in, c_out, v, m, y);
  if (avx2_fits(c_in, c_out)) return conv_pool_avx2(x, u, bias, side, c_in, c_out, v, m, y);
  // Neither vector path: scalar transforms around OpenBLAS's products, the image at once.
  for (std::size_t ty = 0; ty < half; ++ty) {
    for (std::size_t tx = 0; tx < half; ++tx) {
      gather_tile(x, side, c_in, ty, tx, d);
      transform_input(d, c_in, v + (ty * half + tx) * c_in, tiles * c_in);
    }
  }
  // m[k] [tiles, c_out] = v[k] [tiles, c_in] · u[k] [c_in, c_out]
  for (std::size_t k = 0; k < kTerms; ++k) {
    gemm(false, false, tiles, c_out, c_in, 1.0f, v + k * tiles * c_in, c_in, u + k * c_in * c_out,
         c_out, 0.0f, m + k * tiles * c_out, c_out);
  }
  for (std::size_t t = 0; t < tiles; ++t)
    transform_output_pool(m + t * c_out, tiles * c_out, bias, c_out, y + t * c_out);
}

}  // namespace mls::cnn
