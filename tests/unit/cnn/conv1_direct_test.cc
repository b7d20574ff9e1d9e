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
  EXPECT_FALSE(conv1_direct_available(24));
}

TEST(Conv1Direct, MatchesIm2colGemmThenPool) {
  if (!conv1_direct_available(16)) GTEST_SKIP() << "no AVX-512 on this CPU";
  for (const std::size_t side : {2u, 3u, 4u, 5u, 7u, 28u, 31u}) {
    for (const std::size_t c_out : {16u, 32u}) {
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
      // The ReLU clipped some values and let others through.
      EXPECT_GT(zeros, 0u);
      EXPECT_LT(zeros, got.size());
    }
  }
}

}  // namespace
}  // namespace mls::cnn
