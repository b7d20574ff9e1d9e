#pragma once
// Small helpers shared by the CNN tests: seeded random tensors and a gradient comparison.

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "models/cnn/cnn_random.h"

namespace mls::cnn::testing {

inline std::vector<float> random_vector(std::size_t n, std::uint64_t seed, float limit = 1.0f) {
  SplitMix64 rng(seed);
  std::vector<float> v(n);
  for (float& x : v)
    x = rng.uniform_symmetric(limit);
  return v;
}

inline double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    s += static_cast<double>(a[i]) * b[i];
  return s;
}

// Analytic against numerical: relative 1e-2 with a small absolute floor for near-zero gradients.
inline void expect_grad_near(double analytic, double numeric, const char* what, std::size_t i,
                             double abs_floor = 1e-3) {
  const double scale = std::max(std::fabs(analytic), std::fabs(numeric));
  EXPECT_LE(std::fabs(analytic - numeric), 1e-2 * scale + abs_floor)
      << what << "[" << i << "]: analytic " << analytic << ", numeric " << numeric;
}

}  // namespace mls::cnn::testing
