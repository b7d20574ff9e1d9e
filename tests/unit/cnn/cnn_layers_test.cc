#include "models/cnn/cnn_layers.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "cnn/cnn_test_util.h"

namespace mls::cnn {
namespace {

using testing::dot;
using testing::expect_grad_near;
using testing::random_vector;

// Central differences of f with respect to every entry of v (f reads v).
std::vector<double> numeric_grad(std::vector<float>& v, const std::function<double()>& f,
                                 float eps) {
  std::vector<double> g(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float saved = v[i];
    v[i] = saved + eps;
    const double up = f();
    v[i] = saved - eps;
    const double down = f();
    v[i] = saved;
    g[i] = (up - down) / (2.0 * static_cast<double>(eps));
  }
  return g;
}

TEST(CnnLayers, Im2colConvMatchesNaiveConv) {
  for (const ConvShape s : {ConvShape{2, 7, 5, 3, 4}, ConvShape{1, 28, 28, 1, 16},
                            ConvShape{3, 14, 14, 16, 32}, ConvShape{1, 1, 1, 2, 3}}) {
    const auto x = random_vector(s.n * s.h * s.w * s.c_in, 1);
    const auto w = random_vector(s.patch() * s.c_out, 2);
    const auto b = random_vector(s.c_out, 3);
    std::vector<float> col(s.rows() * s.patch()), fast(s.rows() * s.c_out),
        slow(s.rows() * s.c_out);
    conv3x3_forward(x.data(), w.data(), b.data(), s, col.data(), fast.data());
    conv3x3_forward_naive(x.data(), w.data(), b.data(), s, slow.data());
    for (std::size_t i = 0; i < fast.size(); ++i) {
      ASSERT_NEAR(fast[i], slow[i], 1e-5 * std::max(1.0f, std::fabs(slow[i]))) << "at " << i;
    }
  }
}

// im2col against its definition, entry by entry, for the specialised channel counts (1, 16) and
// a generic one, with the narrow widths where the left and right edges meet.
TEST(CnnLayers, Im2colMatchesItsDefinition) {
  for (const ConvShape s :
       {ConvShape{2, 4, 5, 1, 1}, ConvShape{1, 3, 2, 16, 1}, ConvShape{2, 3, 1, 3, 1},
        ConvShape{1, 1, 4, 1, 1}, ConvShape{1, 6, 7, 16, 1}}) {
    const auto x = random_vector(s.n * s.h * s.w * s.c_in, 6);
    std::vector<float> col(s.rows() * s.patch(), -7.0f);
    im2col3x3(x.data(), s, col.data());
    for (std::size_t img = 0; img < s.n; ++img) {
      for (std::size_t oy = 0; oy < s.h; ++oy) {
        for (std::size_t ox = 0; ox < s.w; ++ox) {
          for (std::size_t k = 0; k < 9; ++k) {
            for (std::size_t ci = 0; ci < s.c_in; ++ci) {
              const auto iy = static_cast<std::ptrdiff_t>(oy + k / 3) - 1;
              const auto ix = static_cast<std::ptrdiff_t>(ox + k % 3) - 1;
              const bool inside = iy >= 0 && ix >= 0 && iy < static_cast<std::ptrdiff_t>(s.h) &&
                                  ix < static_cast<std::ptrdiff_t>(s.w);
              const float want = inside ? x[((img * s.h + static_cast<std::size_t>(iy)) * s.w +
                                             static_cast<std::size_t>(ix)) *
                                                s.c_in +
                                            ci]
                                        : 0.0f;
              ASSERT_EQ(col[((img * s.h + oy) * s.w + ox) * s.patch() + k * s.c_in + ci], want)
                  << "image " << img << " (" << oy << ", " << ox << ") tap " << k << " channel "
                  << ci;
            }
          }
        }
      }
    }
  }
}

TEST(CnnLayers, ConvWithoutBiasIsTheBareProduct) {
  const ConvShape s{2, 6, 5, 16, 8};
  const auto x = random_vector(s.n * s.h * s.w * s.c_in, 7);
  const auto w = random_vector(s.patch() * s.c_out, 8);
  const std::vector<float> zero(s.c_out, 0.0f);
  std::vector<float> col(s.rows() * s.patch()), bare(s.rows() * s.c_out, 99.0f),
      biased(s.rows() * s.c_out);
  conv3x3_forward(x.data(), w.data(), nullptr, s, col.data(), bare.data());
  conv3x3_forward(x.data(), w.data(), zero.data(), s, col.data(), biased.data());
  EXPECT_EQ(bare, biased);
}

// The fused inference pooling gives the very bits of bias, ReLU, then the training pooling.
TEST(CnnLayers, BiasReluMaxPoolEqualsItsParts) {
  for (const PoolShape s :
       {PoolShape{2, 6, 4, 16}, PoolShape{1, 5, 7, 32}, PoolShape{3, 4, 3, 3}}) {
    const auto x = random_vector(s.in_size(), 9);
    const auto b = random_vector(s.c, 10, 0.5f);
    std::vector<float> fused(s.out_size()), parts(s.out_size()), shifted(x);
    std::vector<std::uint32_t> arg(s.out_size());
    bias_relu_maxpool2x2_forward(x.data(), b.data(), s, fused.data());
    for (std::size_t i = 0; i < shifted.size(); ++i)
      shifted[i] += b[i % s.c];
    relu_forward(shifted.data(), shifted.size());
    maxpool2x2_forward(shifted.data(), s, parts.data(), arg.data());
    EXPECT_EQ(fused, parts);
    EXPECT_TRUE(std::any_of(fused.begin(), fused.end(), [](float v) { return v == 0.0f; }));
  }
}

TEST(CnnLayers, Col2imIsTheAdjointOfIm2col) {
  const ConvShape s{2, 5, 6, 3, 1};
  const auto x = random_vector(s.n * s.h * s.w * s.c_in, 4);
  const auto c = random_vector(s.rows() * s.patch(), 5);
  std::vector<float> col(c.size()), dx(x.size());
  im2col3x3(x.data(), s, col.data());
  col2im3x3(c.data(), s, dx.data());
  EXPECT_NEAR(dot(col, c), dot(x, dx), 1e-4);
}

TEST(CnnLayers, ConvGradientsMatchFiniteDifferences) {
  const ConvShape s{2, 5, 4, 3, 2};
  auto x = random_vector(s.n * s.h * s.w * s.c_in, 6);
  auto w = random_vector(s.patch() * s.c_out, 7);
  auto b = random_vector(s.c_out, 8);
  const auto r = random_vector(s.rows() * s.c_out, 9);  // loss = <conv(x), r>
  std::vector<float> col(s.rows() * s.patch()), y(s.rows() * s.c_out);
  const auto loss = [&] {
    conv3x3_forward(x.data(), w.data(), b.data(), s, col.data(), y.data());
    return dot(y, r);
  };
  loss();
  std::vector<float> dw(w.size()), db(b.size()), dcol(col.size()), dx(x.size());
  conv3x3_backward(r.data(), col.data(), w.data(), s, dw.data(), db.data(), dcol.data(), dx.data());
  const auto nx = numeric_grad(x, loss, 1e-2f);
  const auto nw = numeric_grad(w, loss, 1e-2f);
  const auto nb = numeric_grad(b, loss, 1e-2f);
  for (std::size_t i = 0; i < x.size(); ++i)
    expect_grad_near(dx[i], nx[i], "dx", i);
  for (std::size_t i = 0; i < w.size(); ++i)
    expect_grad_near(dw[i], nw[i], "dw", i);
  for (std::size_t i = 0; i < b.size(); ++i)
    expect_grad_near(db[i], nb[i], "db", i);
}

TEST(CnnLayers, DenseGradientsMatchFiniteDifferences) {
  const std::size_t n = 3, in = 7, out = 4;
  auto x = random_vector(n * in, 10);
  auto w = random_vector(in * out, 11);
  auto b = random_vector(out, 12);
  const auto r = random_vector(n * out, 13);
  std::vector<float> y(n * out);
  const auto loss = [&] {
    dense_forward(x.data(), w.data(), b.data(), n, in, out, y.data());
    return dot(y, r);
  };
  std::vector<float> dw(w.size()), db(b.size()), dx(x.size());
  dense_backward(r.data(), x.data(), w.data(), n, in, out, dw.data(), db.data(), dx.data());
  const auto nx = numeric_grad(x, loss, 1e-2f);
  const auto nw = numeric_grad(w, loss, 1e-2f);
  const auto nb = numeric_grad(b, loss, 1e-2f);
  for (std::size_t i = 0; i < x.size(); ++i)
    expect_grad_near(dx[i], nx[i], "dx", i);
  for (std::size_t i = 0; i < w.size(); ++i)
    expect_grad_near(dw[i], nw[i], "dw", i);
  for (std::size_t i = 0; i < b.size(); ++i)
    expect_grad_near(db[i], nb[i], "db", i);
}

TEST(CnnLayers, DenseWithOneRowUsesGemvAndAgrees) {
  const std::size_t in = 33, out = 5;
  const auto x = random_vector(in, 14);
  const auto w = random_vector(in * out, 15);
  const auto b = random_vector(out, 16);
  std::vector<float> y(out);
  dense_forward(x.data(), w.data(), b.data(), 1, in, out, y.data());
  for (std::size_t j = 0; j < out; ++j) {
    double ref = b[j];
    for (std::size_t i = 0; i < in; ++i)
      ref += static_cast<double>(x[i]) * w[i * out + j];
    EXPECT_NEAR(y[j], ref, 1e-5);
  }
}

TEST(CnnLayers, MaxPoolGradientsMatchFiniteDifferences) {
  const PoolShape s{2, 5, 4, 3};  // odd height: the last row is dropped
  // Distinct values 0.01 apart, shuffled, so a 1e-3 nudge never changes a window's maximum.
  std::vector<float> x(s.in_size());
  std::iota(x.begin(), x.end(), 0.0f);
  SplitMix64 rng(17);
  for (std::size_t i = x.size() - 1; i > 0; --i) {
    std::swap(x[i], x[static_cast<std::size_t>(rng.next() % (i + 1))]);
  }
  for (float& v : x)
    v *= 0.01f;
  const auto r = random_vector(s.out_size(), 18);
  std::vector<float> y(s.out_size());
  std::vector<std::uint32_t> arg(s.out_size());
  const auto loss = [&] {
    maxpool2x2_forward(x.data(), s, y.data(), arg.data());
    return dot(y, r);
  };
  loss();
  std::vector<float> dx(x.size());
  maxpool2x2_backward(r.data(), arg.data(), s, dx.data());
  const auto nx = numeric_grad(x, loss, 1e-3f);
  for (std::size_t i = 0; i < x.size(); ++i)
    expect_grad_near(dx[i], nx[i], "dx", i);
  EXPECT_EQ(y[0], std::max({x[0], x[3], x[12], x[15]}));
}

TEST(CnnLayers, SoftmaxCrossEntropyGradientMatchesFiniteDifferences) {
  const std::size_t n = 4, k = 3;
  auto z = random_vector(n * k, 19, 3.0f);
  const std::vector<int> labels = {0, 2, 1, 2};
  std::vector<float> p(n * k), dz(n * k);
  softmax_cross_entropy(z.data(), labels.data(), n, k, p.data(), dz.data());
  const auto loss = [&] {
    std::vector<float> q(n * k);
    return static_cast<double>(
        softmax_cross_entropy(z.data(), labels.data(), n, k, q.data(), nullptr));
  };
  const auto nz = numeric_grad(z, loss, 1e-2f);
  for (std::size_t i = 0; i < z.size(); ++i)
    expect_grad_near(dz[i], nz[i], "dz", i, 2e-4);
  for (std::size_t r = 0; r < n; ++r) {
    EXPECT_NEAR(p[r * k] + p[r * k + 1] + p[r * k + 2], 1.0f, 1e-6);
  }
}

TEST(CnnLayers, SoftmaxIsStableForHugeLogits) {
  std::vector<float> z = {1000.0f, 0.0f, -1000.0f};
  softmax_rows(z.data(), 1, 3);
  EXPECT_FLOAT_EQ(z[0], 1.0f);
  EXPECT_FLOAT_EQ(z[2], 0.0f);
  const std::vector<float> logits = {-1000.0f, 1000.0f};
  const int label = 0;
  std::vector<float> p(2);
  const float loss = softmax_cross_entropy(logits.data(), &label, 1, 2, p.data(), nullptr);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, 2000.0f, 1e-2);
}

TEST(CnnLayers, ReluAndDropout) {
  std::vector<float> x = {-1.0f, 0.0f, 2.0f};
  relu_forward(x.data(), x.size());
  EXPECT_EQ(x, (std::vector<float>{0.0f, 0.0f, 2.0f}));
  std::vector<float> dy = {5.0f, 5.0f, 5.0f};
  relu_backward(x.data(), dy.data(), dy.size());
  EXPECT_EQ(dy, (std::vector<float>{0.0f, 0.0f, 5.0f}));

  const std::size_t count = 10000;
  std::vector<float> ones(count, 1.0f), mask(count), again(count, 1.0f), mask2(count);
  dropout_forward(ones.data(), count, 0.25f, 42, mask.data());
  dropout_forward(again.data(), count, 0.25f, 42, mask2.data());
  EXPECT_EQ(mask, mask2);  // same seed, same mask
  const auto dropped = std::count(mask.begin(), mask.end(), 0.0f);
  EXPECT_NEAR(static_cast<double>(dropped) / count, 0.25, 0.02);
  const double mean = std::accumulate(ones.begin(), ones.end(), 0.0) / count;
  EXPECT_NEAR(mean, 1.0, 0.03);  // inverted dropout keeps the expectation
}

}  // namespace
}  // namespace mls::cnn
