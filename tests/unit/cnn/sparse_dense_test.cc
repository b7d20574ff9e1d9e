// dense_grouped (sparse_dense.h) against a double-precision product, and its promise: the same
// bits for an image whether it is computed alone or in any group, with zero inputs (skipped) in
// some images, in all images, or in none.

#include "models/cnn/sparse_dense.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "cnn/cnn_test_util.h"

namespace mls::cnn {
namespace {

using testing::random_vector;

TEST(DenseGrouped, AvailableForWholeRegistersAndEvenInputs) {
  EXPECT_FALSE(dense_grouped_available(10, 0));
  EXPECT_FALSE(dense_grouped_available(10, 4));
  EXPECT_FALSE(dense_grouped_available(11, 16));
  // 8 and 24 outputs are whole AVX2 registers but not whole AVX-512 ones: both or neither.
  EXPECT_EQ(dense_grouped_available(10, 24), dense_grouped_available(10, 8));
#if defined(__x86_64__)
  // A CPU with either kernel family must not silently fall back (and skip the test below).
  if (__builtin_cpu_supports("avx512f") ||
      (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
    EXPECT_TRUE(dense_grouped_available(10, 16));
  }
#endif
}

// Inputs 2 (no whole vector of inputs), 30 (a partial one at the end), 1568 (the served network,
// several chunks of weight rows); outputs 8 and 24 (AVX2 only: a single block, and blocks of 4, 2
// and 1 left over) besides the multiples of 16.
TEST(DenseGrouped, MatchesProductAndIgnoresGrouping) {
  if (!dense_grouped_available(2, 16)) GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA on this CPU";
  for (const std::size_t out : {8u, 16u, 24u, 48u, 64u}) {
    for (const std::size_t in : {2u, 30u, 1568u}) {
      if (!dense_grouped_available(in, out)) continue;
      SCOPED_TRACE(::testing::Message() << in << " -> " << out);
      const std::size_t n = 9;
      auto x = random_vector(n * in, 7 + in, 1.0f);
      // Like a ReLU's output: negative inputs become zero (about half), and inputs 0 and 1 are
      // zero in every image (a pair no image needs).
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (x[i] < 0.0f || i % in < 2) x[i] = 0.0f;
      }
      const auto w = random_vector(in * out, 8 + out, 0.5f);
      const auto b = random_vector(out, 9 + out, 0.3f);

      std::vector<float> all(n * out);
      dense_grouped(x.data(), w.data(), b.data(), n, in, out, all.data());
      for (std::size_t img = 0; img < n; ++img) {
        for (std::size_t o = 0; o < out; ++o) {
          double expected = b[o];
          for (std::size_t i = 0; i < in; ++i)
            expected += static_cast<double>(x[img * in + i]) * w[i * out + o];
          ASSERT_NEAR(all[img * out + o], expected, 1e-4 * (1.0 + std::fabs(expected)))
              << "image " << img << ", output " << o;
        }
        std::vector<float> alone(out);
        dense_grouped(x.data() + img * in, w.data(), b.data(), 1, in, out, alone.data());
        for (std::size_t o = 0; o < out; ++o)
          ASSERT_EQ(alone[o], all[img * out + o]) << "image " << img << ", output " << o;
      }
      // Groups of 2 and 3 (starting at image 1) as well.
      for (const std::size_t g : {2u, 3u}) {
        std::vector<float> part(g * out);
        dense_grouped(x.data() + in, w.data(), b.data(), g, in, out, part.data());
        for (std::size_t k = 0; k < g * out; ++k)
          ASSERT_EQ(part[k], all[out + k]) << "group of " << g << ", at " << k;
      }
    }
  }
}

}  // namespace
}  // namespace mls::cnn
