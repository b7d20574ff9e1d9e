#include "models/cnn/sparse_dense.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "models/cnn/avx2.h"
#include "models/cnn/avx512.h"

namespace mls::cnn {

#if defined(__x86_64__)

namespace {

// Images per pass over the weights, and 16-float output blocks per pass for a group of g: the
// 2 x g x blocks accumulators plus 2 x blocks weight vectors fit the 32 vector registers, and
// the fewer passes over the weights, the better.
constexpr std::size_t kGroup = 4;
template <std::size_t kG>
constexpr std::size_t kBlocks = kG <= 2 ? 4 : 2;

// The input pairs (2p, 2p+1) with a nonzero value in any of the g images, in order.
MLS_CNN_AVX512 std::size_t live_pairs(const float* const* x, std::size_t g, std::size_t in,
                                      std::uint32_t* pairs) {
  std::size_t count = 0;
  // Lane l of a 16-input step holds the pair index (i + l) / 2; the even lanes are compressed.
  const __m512i step = _mm512_set1_epi32(8);
  __m512i pair_of_lane = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  for (std::size_t i = 0; i < in; i += 16) {
    const auto lanes = static_cast<__mmask16>(in - i >= 16 ? 0xFFFF : (1u << (in - i)) - 1);
    __mmask16 nonzero = 0;
    for (std::size_t j = 0; j < g; ++j) {
      nonzero |= _mm512_mask_cmp_ps_mask(lanes, _mm512_maskz_loadu_ps(lanes, x[j] + i),
                                         _mm512_setzero_ps(), _CMP_NEQ_UQ);
    }
    // A pair is live when either of its two lanes is: one bit per pair, on the even lane.
    const auto live = static_cast<__mmask16>((nonzero | (nonzero >> 1)) & 0x5555u);
    _mm512_mask_compressstoreu_epi32(pairs + count, live, pair_of_lane);
    count += static_cast<std::size_t>(__builtin_popcount(live));
    pair_of_lane = _mm512_add_epi32(pair_of_lane, step);
  }
  return count;
}

// Output columns [o, o + 16 * kB) of g <= kGroup images.
template <std::size_t kG, std::size_t kB>
MLS_CNN_AVX512 void group_outputs(const float* const* x, const float* w, const float* b,
                                  std::size_t out, const std::uint32_t* pairs, std::size_t count,
                                  float* const* y, std::size_t o) {
  __m512 even[kG][kB], odd[kG][kB];
  for (std::size_t j = 0; j < kB; ++j) {
    const __m512 bias = _mm512_loadu_ps(b + o + 16 * j);
    for (std::size_t g = 0; g < kG; ++g) {
      even[g][j] = bias;
      odd[g][j] = _mm512_setzero_ps();
    }
  }
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t i = 2 * static_cast<std::size_t>(pairs[k]);
    __m512 w0[kB], w1[kB];
    for (std::size_t j = 0; j < kB; ++j) {
      w0[j] = _mm512_loadu_ps(w + i * out + o + 16 * j);
      w1[j] = _mm512_loadu_ps(w + (i + 1) * out + o + 16 * j);
    }
    for (std::size_t g = 0; g < kG; ++g) {
      const __m512 x0 = _mm512_set1_ps(x[g][i]), x1 = _mm512_set1_ps(x[g][i + 1]);
      for (std::size_t j = 0; j < kB; ++j) {
        even[g][j] = _mm512_fmadd_ps(x0, w0[j], even[g][j]);
        odd[g][j] = _mm512_fmadd_ps(x1, w1[j], odd[g][j]);
      }
    }
  }
  for (std::size_t g = 0; g < kG; ++g) {
    for (std::size_t j = 0; j < kB; ++j)
      _mm512_storeu_ps(y[g] + o + 16 * j, _mm512_add_ps(even[g][j], odd[g][j]));
  }
}

template <std::size_t kG>
void group(const float* const* x, const float* w, const float* b, std::size_t out,
           const std::uint32_t* pairs, std::size_t count, float* const* y) {
  std::size_t o = 0;
  for (; o + 16 * kBlocks<kG> <= out; o += 16 * kBlocks<kG>)
    group_outputs<kG, kBlocks<kG>>(x, w, b, out, pairs, count, y, o);
  for (; o < out; o += 16)
    group_outputs<kG, 1>(x, w, b, out, pairs, count, y, o);
}

// The AVX2 twins, 8 outputs to a vector: each output's two sums take the same products in the
// same order, so the bits match the AVX-512 path's. With 16 vector registers, 2 x g x blocks
// accumulators, 2 x blocks weight vectors and the 2 broadcasts must fit: one block for 3 or 4
// images, two for 2; one image needs no weight registers (each weight is used once, straight
// from memory), so four.
template <std::size_t kG>
constexpr std::size_t kBlocksAvx2 = kG == 1   ? 4
                                    : kG == 2 ? 2
                                              : 1;

MLS_CNN_AVX2 std::size_t live_pairs_avx2(const float* const* x, std::size_t g, std::size_t in,
                                         std::uint32_t* pairs) {
  std::size_t count = 0;
  std::size_t i = 0;
  for (; i + 8 <= in; i += 8) {
    __m256 nonzero = _mm256_setzero_ps();
    for (std::size_t j = 0; j < g; ++j) {
      nonzero = _mm256_or_ps(
          nonzero, _mm256_cmp_ps(_mm256_loadu_ps(x[j] + i), _mm256_setzero_ps(), _CMP_NEQ_UQ));
    }
    const auto bits = static_cast<unsigned>(_mm256_movemask_ps(nonzero));
    const unsigned live = bits | (bits >> 1);
    // Branch-free: every candidate is written, and the count moves past the live ones only. The
    // count never passes the pair being written, so no write leaves the array.
    const auto p = static_cast<std::uint32_t>(i / 2);
    for (unsigned q = 0; q < 4; ++q) {
      pairs[count] = p + q;
      count += (live >> (2 * q)) & 1u;
    }
  }
  for (; i < in; i += 2) {
    bool any = false;
    for (std::size_t j = 0; j < g; ++j)
      any = any || x[j][i] != 0.0f || x[j][i + 1] != 0.0f;
    if (any) pairs[count++] = static_cast<std::uint32_t>(i / 2);
  }
  return count;
}

// Live pairs [begin, end) of count for output columns [o, o + 8 kB): the sums start from the
// bias and zero at pair 0, wait in state ([2, kGroup, out]: even, odd) between chunks, and go to
// y after the last pair. Chunking changes no sum's order.
template <std::size_t kG, std::size_t kB>
MLS_CNN_AVX2 void group_outputs_avx2(const float* const* x, const float* w, const float* b,
                                     std::size_t out, const std::uint32_t* pairs, std::size_t begin,
                                     std::size_t end, std::size_t count, float* state,
                                     float* const* y, std::size_t o) {
  float* even_state = state;
  float* odd_state = state + kGroup * out;
  __m256 even[kG][kB], odd[kG][kB];
#pragma GCC unroll 4
  for (std::size_t j = 0; j < kB; ++j) {
    const __m256 bias = _mm256_loadu_ps(b + o + 8 * j);
#pragma GCC unroll 4
    for (std::size_t g = 0; g < kG; ++g) {
      if (begin == 0) {
        even[g][j] = bias;
        odd[g][j] = _mm256_setzero_ps();
      } else {
        even[g][j] = _mm256_loadu_ps(even_state + g * out + o + 8 * j);
        odd[g][j] = _mm256_loadu_ps(odd_state + g * out + o + 8 * j);
      }
    }
  }
  for (std::size_t k = begin; k < end; ++k) {
    const std::size_t i = 2 * static_cast<std::size_t>(pairs[k]);
    const float* w0 = w + i * out + o;
    const float* w1 = w0 + out;
#pragma GCC unroll 4
    for (std::size_t g = 0; g < kG; ++g) {
      const __m256 x0 = _mm256_broadcast_ss(x[g] + i), x1 = _mm256_broadcast_ss(x[g] + i + 1);
#pragma GCC unroll 4
      for (std::size_t j = 0; j < kB; ++j) {
        even[g][j] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w0 + 8 * j), even[g][j]);
        odd[g][j] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w1 + 8 * j), odd[g][j]);
      }
    }
  }
#pragma GCC unroll 4
  for (std::size_t g = 0; g < kG; ++g) {
#pragma GCC unroll 4
    for (std::size_t j = 0; j < kB; ++j) {
      if (end == count) {
        _mm256_storeu_ps(y[g] + o + 8 * j, _mm256_add_ps(even[g][j], odd[g][j]));
      } else {
        _mm256_storeu_ps(even_state + g * out + o + 8 * j, even[g][j]);
        _mm256_storeu_ps(odd_state + g * out + o + 8 * j, odd[g][j]);
      }
    }
  }
}

// Each pass over the live pairs reads 8 kB of every weight row, so the passes go chunk by chunk
// (about 16 KB of weight rows each): the later passes over a chunk find it in L1 rather than
// fetching every row again from L2 or beyond.
template <std::size_t kG>
void group_avx2(const float* const* x, const float* w, const float* b, std::size_t out,
                const std::uint32_t* pairs, std::size_t count, float* state, float* const* y) {
  const std::size_t chunk = std::max<std::size_t>(1, 2048 / out);
  for (std::size_t begin = 0;; begin += chunk) {
    const std::size_t end = std::min(count, begin + chunk);
    std::size_t o = 0;
    for (; o + 8 * kBlocksAvx2<kG> <= out; o += 8 * kBlocksAvx2<kG>) {
      group_outputs_avx2<kG, kBlocksAvx2<kG>>(x, w, b, out, pairs, begin, end, count, state, y, o);
    }
    for (; o < out; o += 8)
      group_outputs_avx2<kG, 1>(x, w, b, out, pairs, begin, end, count, state, y, o);
    if (end == count) break;
  }
}

// One group of g <= kGroup images through either ISA's kernels.
void one_group(const float* const* xs, const float* w, const float* b, std::size_t g,
               std::size_t in, std::size_t out, std::uint32_t* pairs, float* state,
               float* const* ys) {
  if (avx512::cpu_has_avx512f()) {
    const std::size_t count = live_pairs(xs, g, in, pairs);
    switch (g) {
      case 4:
        return group<4>(xs, w, b, out, pairs, count, ys);
      case 3:
        return group<3>(xs, w, b, out, pairs, count, ys);
      case 2:
        return group<2>(xs, w, b, out, pairs, count, ys);
      default:
        return group<1>(xs, w, b, out, pairs, count, ys);
    }
  }
  const std::size_t count = live_pairs_avx2(xs, g, in, pairs);
  switch (g) {
    case 4:
      return group_avx2<4>(xs, w, b, out, pairs, count, state, ys);
    case 3:
      return group_avx2<3>(xs, w, b, out, pairs, count, state, ys);
    case 2:
      return group_avx2<2>(xs, w, b, out, pairs, count, state, ys);
    default:
      return group_avx2<1>(xs, w, b, out, pairs, count, state, ys);
  }
}

}  // namespace

bool dense_grouped_available(std::size_t in, std::size_t out) {
  if (out == 0 || in % 2 != 0) return false;
  if (avx512::cpu_has_avx512f()) return out % 16 == 0;
  return avx2::cpu_has_avx2_fma() && out % 8 == 0;
}

void dense_grouped(const float* x, const float* w, const float* b, std::size_t n, std::size_t in,
                   std::size_t out, float* y) {
  thread_local std::vector<std::uint32_t> pairs;
  thread_local std::vector<float> state;
  if (pairs.size() < in / 2) pairs.resize(in / 2);
  if (state.size() < 2 * kGroup * out) state.resize(2 * kGroup * out);
  for (std::size_t start = 0; start < n; start += kGroup) {
    const std::size_t g = std::min(kGroup, n - start);
    const float* xs[kGroup];
    float* ys[kGroup];
    for (std::size_t j = 0; j < g; ++j) {
      xs[j] = x + (start + j) * in;
      ys[j] = y + (start + j) * out;
    }
    one_group(xs, w, b, g, in, out, pairs.data(), state.data(), ys);
  }
}

#else

bool dense_grouped_available(std::size_t, std::size_t) {
  return false;
}

void dense_grouped(const float*, const float*, const float*, std::size_t, std::size_t, std::size_t,
                   float*) {}

#endif

}  // namespace mls::cnn
