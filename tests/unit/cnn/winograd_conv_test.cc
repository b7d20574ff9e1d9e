// Winograd F(2x2, 3x3) (winograd_conv.h) against the direct path it replaces in inference
// (im2col + GEMM, then bias + ReLU + max pool), on random weights, biases and inputs, at even and
// odd sides (an odd side's last row and column are dropped by the pooling), sides with no whole
// interior tile, and the served network's shapes.

#include "models/cnn/winograd_conv.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "cnn/cnn_test_util.h"
#include "models/cnn/cnn_layers.h"

namespace mls::cnn {
namespace {

using testing::random_vector;

TEST(WinogradConv, MatchesIm2colGemmThenPool) {
  struct Case {
    std::size_t side, c_in, c_out;
  };
  // Multiples of 8 but not 16 take the AVX2 kernels where AVX-512 is missing: fewer tiles than
  // one block (side 4, 9), c_out with an 8-wide column block left over (24, 40), the tile blocks
  // of the served shape (side 14: 49 tiles) and a larger one (side 28: 196). Multiples of 16 take
  // the AVX-512 kernels where the CPU has them: one tile (side 3, two 32-wide column blocks), c_out
  // with a 16-wide column block left over (48) or only that block (16), 9 tiles, 49, 196 and 256.
  for (const Case& c :
       {Case{2, 1, 1}, Case{3, 2, 3}, Case{4, 3, 5}, Case{5, 3, 5}, Case{7, 16, 32},
        Case{14, 16, 32}, Case{15, 4, 8}, Case{32, 16, 32}, Case{4, 8, 8}, Case{9, 8, 24},
        Case{14, 24, 40}, Case{28, 16, 32}, Case{3, 16, 64}, Case{6, 16, 48}, Case{14, 32, 16}}) {
    SCOPED_TRACE(::testing::Message()
                 << "side " << c.side << ", " << c.c_in << " -> " << c.c_out << " channels");
    const std::size_t half = c.side / 2;
    const auto x = random_vector(c.side * c.side * c.c_in, 10 + c.side, 2.0f);
    const auto w = random_vector(9 * c.c_in * c.c_out, 20 + c.c_out, 0.5f);
    const auto b = random_vector(c.c_out, 30 + c.c_out, 0.3f);

    const ConvShape conv{1, c.side, c.side, c.c_in, c.c_out};
    const PoolShape pool{1, c.side, c.side, c.c_out};
    std::vector<float> col(c.side * c.side * 9 * c.c_in), a(c.side * c.side * c.c_out);
    std::vector<float> expected(half * half * c.c_out);
    conv3x3_forward(x.data(), w.data(), nullptr, conv, col.data(), a.data());
    bias_relu_maxpool2x2_forward(a.data(), b.data(), pool, expected.data());

    const auto u = winograd_filters(w.data(), c.c_in, c.c_out);
    // Scratch and output start as NaN: nothing may be read before it is written.
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> scratch(winograd_scratch_floats(c.side, c.c_in, c.c_out), nan);
    std::vector<float> got(expected.size(), nan);
    winograd_conv_bias_relu_pool(x.data(), u.data(), b.data(), c.side, c.c_in, c.c_out,
                                 scratch.data(), got.data());
    std::size_t zeros = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], expected[i], 1e-5f * (1.0f + std::fabs(expected[i]))) << "at " << i;
      zeros += got[i] == 0.0f;
    }
    if (got.size() >= 8) {  // the ReLU clipped some values and let others through
      EXPECT_GT(zeros, 0u);
      EXPECT_LT(zeros, got.size());
    }
  }
}

// U = G g G^T by hand for one filter: the corners of U are the corners of g.
TEST(WinogradConv, FilterTransformKeepsCorners) {
  std::vector<float> w(9);
  for (std::size_t t = 0; t < 9; ++t)
    w[t] = static_cast<float>(t + 1);  // g = [1 2 3; 4 5 6; 7 8 9]
  const auto u = winograd_filters(w.data(), 1, 1);
  ASSERT_EQ(u.size(), 16u);
  EXPECT_EQ(u[0], 1.0f);
  EXPECT_EQ(u[3], 3.0f);
  EXPECT_EQ(u[12], 7.0f);
  EXPECT_EQ(u[15], 9.0f);
  // U[1][1] = (1/4) * sum of g = 45 / 4
  EXPECT_FLOAT_EQ(u[5], 11.25f);
}

}  // namespace
}  // namespace mls::cnn
