#include "models/cnn/sparse_dense.h"

#include <algorithm>
#include <cstdint>
#include <vector>

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

}  // namespace

bool dense_grouped_available(std::size_t in, std::size_t out) {
  return avx512::cpu_has_avx512f() && out != 0 && out % 16 == 0 && in % 2 == 0;
}

void dense_grouped(const float* x, const float* w, const float* b, std::size_t n, std::size_t in,
                   std::size_t out, float* y) {
  thread_local std::vector<std::uint32_t> pairs;
  if (pairs.size() < in / 2) pairs.resize(in / 2);
  for (std::size_t start = 0; start < n; start += kGroup) {
    const std::size_t g = std::min(kGroup, n - start);
    const float* xs[kGroup];
    float* ys[kGroup];
    for (std::size_t j = 0; j < g; ++j) {
      xs[j] = x + (start + j) * in;
      ys[j] = y + (start + j) * out;
    }
    const std::size_t count = live_pairs(xs, g, in, pairs.data());
    switch (g) {
      case 4:
        group<4>(xs, w, b, out, pairs.data(), count, ys);
        break;
      case 3:
        group<3>(xs, w, b, out, pairs.data(), count, ys);
        break;
      case 2:
        group<2>(xs, w, b, out, pairs.data(), count, ys);
        break;
      default:
        group<1>(xs, w, b, out, pairs.data(), count, ys);
    }
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
