// The direct first block (conv1_direct.h) against the two-step path it replaces in inference
// (im2col + GEMM, then bias + ReLU + max pool), on random weights, biases and pixels, at the sides
// where its border handling differs: even and odd, too small for any interior pixel, and 28.

#include "models/cnn/conv1_direct.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "cnn/cnn_test_util.h"
#include "models/cnn/cnn_layers.h"

namespace mls::cnn {
namespace {

using testing::random_vector;

TEST(Conv1Direct, AvailableOnlyForWholeRegisters) {
  EXPECT_FALSE(conv1_direct_available(0));
  EXPECT_FALSE(conv1_direct_available(3));
  EXPECT_FALSE(conv1_direct_available(12));
  // 8 and 24 channels are whole AVX2 registers but not whole AVX-512 ones: both or neither.
  EXPECT_EQ(conv1_direct_available(24), conv1_direct_available(8));
#if defined(__x86_64__)
  // A CPU with either kernel family must not silently fall back (and skip the test below).
  if (__builtin_cpu_supports("avx512f") ||
      (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
    EXPECT_TRUE(conv1_direct_available(16));
  }
#endif
}

TEST(Conv1Direct, MatchesIm2colGemmThenPool) {
  if (!conv1_direct_available(16)) GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA on this CPU";
  for (const std::size_t side : {2u, 3u, 4u, 5u, 7u, 28u, 31u}) {
    // 8 and 24 only where the AVX2 kernel runs.
    for (const std::size_t c_out : {8u, 16u, 24u, 32u}) {
      if (!conv1_direct_available(c_out)) continue;
      SCOPED_TRACE(::testing::Message() << "side " << side << ", channels " << c_out);
      const std::size_t n = 3, half = side / 2;
      const auto x = random_vector(n * side * side, 100 + side, 2.0f);
      const auto w = random_vector(9 * c_out, 200 + c_out, 0.5f);
      const auto b = random_vector(c_out, 300 + c_out, 0.3f);

      const ConvShape conv{n, side, side, 1, c_out};
      const PoolShape pool{n, side, side, c_out};
      std::vector<float> col(n * side * side * 9), a1(n * side * side * c_out);
      std::vector<float> expected(n * half * half * c_out);
      conv3x3_forward(x.data(), w.data(), nullptr, conv, col.data(), a1.data());
      bias_relu_maxpool2x2_forward(a1.data(), b.data(), pool, expected.data());

      // NaN in the output first: every value must be written.
      std::vector<float> got(expected.size(), std::nanf(""));
      conv1_bias_relu_pool(x.data(), w.data(), b.data(), n, side, c_out, got.data());
      std::size_t zeros = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], expected[i], 1e-5f * (1.0f + std::fabs(expected[i]))) << "at " << i;
        zeros += got[i] == 0.0f;
      }
      // The ReLU clipped some values and let others through (given enough values: the 24 of
      // side 3 with 8 channels happen to be all positive).
      if (got.size() >= 48) {
        EXPECT_GT(zeros, 0u);
        EXPECT_LT(zeros, got.size());
      }
    }
  }
}

}  // namespace
}  // namespace mls::cnn
