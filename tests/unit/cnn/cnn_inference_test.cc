// The inference-only pass (CnnNetwork::predict, inference_forward) against the training forward
// and against a direct, double-precision evaluation of the network, on random weights (biases
// included) and random inputs, for one image and odd batches.

#include "models/cnn/cnn_inference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cnn/cnn_test_util.h"
#include "models/cnn/cnn_network.h"

namespace mls::cnn {
namespace {

using testing::random_vector;

CnnArch odd_arch() {  // odd sides and channel counts: the generic (unspecialised) loops
  CnnArch a;
  a.input_size = 10;  // 10 -> 5 -> 2: the second pooling drops a row and a column
  a.num_classes = 3;
  a.conv1_channels = 3;
  a.conv2_channels = 5;
  a.hidden = 7;
  return a;
}

// Channel and hidden counts that are multiples of 8 but not 16: the AVX2 kernels where AVX-512 is
// missing, the generic loops where it is not.
CnnArch avx2_arch() {
  CnnArch a;
  a.input_size = 12;  // 12 -> 6 -> 3
  a.num_classes = 2;
  a.conv1_channels = 8;
  a.conv2_channels = 24;
  a.hidden = 8;
  return a;
}

// He-initialised weights plus non-zero biases, so the bias fused into the pooling is exercised.
std::vector<float> weights(const CnnNetwork& net, std::uint64_t seed) {
  auto p = net.init_params(seed);
  const CnnLayout& l = net.layout();
  const auto noise = random_vector(p.size(), seed + 1, 0.2f);
  for (const auto& [start, end] : {std::pair{l.conv1_b, l.conv2_w}, std::pair{l.conv2_b, l.fc1_w},
                                   std::pair{l.fc1_b, l.fc2_w}, std::pair{l.fc2_b, l.num_params}}) {
    for (std::size_t i = start; i < end; ++i)
      p[i] = noise[i];
  }
  return p;
}

// The network evaluated directly, in double: a reference independent of im2col and the BLAS.
std::vector<double> reference_probs(const CnnNetwork& net, const std::vector<float>& p,
                                    const float* x, std::size_t n) {
  const CnnArch& a = net.arch();
  const CnnLayout& l = net.layout();
  const auto conv_relu_pool = [](const std::vector<double>& in, std::size_t side, std::size_t c_in,
                                 const float* w, const float* b, std::size_t c_out) {
    const std::size_t half = side / 2;
    std::vector<double> out(half * half * c_out, -std::numeric_limits<double>::infinity());
    for (std::size_t y = 0; y < 2 * half; ++y) {
      for (std::size_t x = 0; x < 2 * half; ++x) {
        for (std::size_t co = 0; co < c_out; ++co) {
          double v = b[co];
          for (std::size_t k = 0; k < 9; ++k) {
            const auto iy = static_cast<std::ptrdiff_t>(y + k / 3) - 1;
            const auto ix = static_cast<std::ptrdiff_t>(x + k % 3) - 1;
            if (iy < 0 || ix < 0 || iy >= static_cast<std::ptrdiff_t>(side) ||
                ix >= static_cast<std::ptrdiff_t>(side)) {
              continue;
            }
            for (std::size_t ci = 0; ci < c_in; ++ci) {
              v += in[(static_cast<std::size_t>(iy) * side + static_cast<std::size_t>(ix)) * c_in +
                      ci] *
                   w[(k * c_in + ci) * c_out + co];
            }
          }
          double& o = out[((y / 2) * half + x / 2) * c_out + co];
          o = std::max(o, std::max(v, 0.0));
        }
      }
    }
    return out;
  };
  const auto dense = [](const std::vector<double>& in, const float* w, const float* b,
                        std::size_t out_size, bool relu) {
    std::vector<double> out(out_size);
    for (std::size_t j = 0; j < out_size; ++j) {
      double v = b[j];
      for (std::size_t i = 0; i < in.size(); ++i)
        v += in[i] * w[i * out_size + j];
      out[j] = relu ? std::max(v, 0.0) : v;
    }
    return out;
  };
  std::vector<double> probs;
  for (std::size_t img = 0; img < n; ++img) {
    const float* xi = x + img * l.s1 * l.s1;
    const std::vector<double> in(xi, xi + l.s1 * l.s1);
    const auto p1 = conv_relu_pool(in, l.s1, 1, &p[l.conv1_w], &p[l.conv1_b], a.conv1_channels);
    const auto p2 =
        conv_relu_pool(p1, l.s2, a.conv1_channels, &p[l.conv2_w], &p[l.conv2_b], a.conv2_channels);
    const auto h = dense(p2, &p[l.fc1_w], &p[l.fc1_b], a.hidden, true);
    const auto z = dense(h, &p[l.fc2_w], &p[l.fc2_b], a.num_classes, false);
    const double m = *std::max_element(z.begin(), z.end());
    double sum = 0;
    for (const double v : z)
      sum += std::exp(v - m);
    for (const double v : z)
      probs.push_back(std::exp(v - m) / sum);
  }
  return probs;
}

// The training forward's probabilities (dropout off): what predict computed before the fast path.
std::vector<float> training_probs(const CnnNetwork& net, const std::vector<float>& p,
                                  const float* x, std::size_t n) {
  CnnScratch scratch;
  std::vector<float> grad(net.num_params());
  const std::vector<int> labels(n, 0);
  net.loss_and_gradient(p, x, labels.data(), n, std::nullopt, grad, scratch);
  return {scratch.probs.begin(),
          scratch.probs.begin() + static_cast<std::ptrdiff_t>(n * net.arch().num_classes)};
}

// predict (blocks of kPredictBlock) and inference_forward on the whole batch in one pass, which a
// larger kPredictBlock would use.
TEST(CnnInference, MatchesTrainingForwardAndDirectEvaluation) {
  for (const CnnArch& arch : {CnnArch{}, odd_arch(), avx2_arch()}) {
    auto net = CnnNetwork::create(arch);
    ASSERT_TRUE(net.ok());
    const auto p = weights(*net, 41);
    for (const std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{13}}) {
      SCOPED_TRACE(::testing::Message() << "side " << arch.input_size << ", batch " << n);
      const auto x = random_vector(n * net->num_features(), 42 + n, 2.0f);
      std::vector<float> blocked(n * arch.num_classes), whole(n * arch.num_classes);
      CnnScratch scratch;
      net->predict(p, x.data(), n, blocked.data(), scratch);
      InferenceScratch one_pass;
      inference_forward(arch, net->layout(), p.data(), x.data(), n, whole.data(), one_pass);
      // As a served model runs it: Winograd conv2, fc1 over groups of images.
      const auto prepared = prepare_inference(arch, net->layout(), p.data());
      std::vector<float> served(n * arch.num_classes);
      net->predict(p, x.data(), n, served.data(), scratch, &prepared);
      const auto trained = training_probs(*net, p, x.data(), n);
      const auto direct = reference_probs(*net, p, x.data(), n);
      for (std::size_t i = 0; i < blocked.size(); ++i) {
        ASSERT_NEAR(blocked[i], trained[i], 1e-5) << "at " << i;
        ASSERT_NEAR(blocked[i], direct[i], 1e-5) << "at " << i;
        ASSERT_NEAR(whole[i], trained[i], 1e-5) << "at " << i;
        ASSERT_NEAR(whole[i], direct[i], 1e-5) << "at " << i;
        ASSERT_NEAR(served[i], direct[i], 1e-5) << "at " << i;
      }
    }
  }
}

// Every image takes the same BLAS calls whether it comes alone or in a batch, so the bits agree.
TEST(CnnInference, BatchEqualsOneAtATimeExactly) {
  auto net = CnnNetwork::create(CnnArch{});
  ASSERT_TRUE(net.ok());
  const auto p = weights(*net, 43);
  const std::size_t n = 2 * CnnNetwork::kPredictBlock + 3;
  const auto x = random_vector(n * net->num_features(), 44, 2.0f);
  CnnScratch scratch;
  std::vector<float> batch(n * 2), one(2);
  net->predict(p, x.data(), n, batch.data(), scratch);
  for (std::size_t i = 0; i < n; ++i) {
    net->predict(p, x.data() + i * net->num_features(), 1, one.data(), scratch);
    EXPECT_EQ(one[0], batch[2 * i]) << "image " << i;
    EXPECT_EQ(one[1], batch[2 * i + 1]) << "image " << i;
  }
}

// The served pass (prepared weights) too: fc1's groups of images must not change an image's bits.
TEST(CnnInference, ServedBatchEqualsOneAtATimeExactly) {
  for (const CnnArch& arch : {CnnArch{}, avx2_arch()}) {
    auto net = CnnNetwork::create(arch);
    ASSERT_TRUE(net.ok());
    const auto p = weights(*net, 49);
    const auto prepared = prepare_inference(arch, net->layout(), p.data());
    const std::size_t n = 2 * CnnNetwork::kPredictBlock + 3, k = arch.num_classes;
    const auto x = random_vector(n * net->num_features(), 50, 2.0f);
    CnnScratch scratch;
    std::vector<float> batch(n * k), one(k);
    net->predict(p, x.data(), n, batch.data(), scratch, &prepared);
    for (std::size_t i = 0; i < n; ++i) {
      net->predict(p, x.data() + i * net->num_features(), 1, one.data(), scratch, &prepared);
      for (std::size_t c = 0; c < k; ++c)
        EXPECT_EQ(one[c], batch[i * k + c]) << "image " << i << ", class " << c;
    }
  }
}

// The scratch is never cleared: whatever a bigger block or another network left in it (here NaN)
// must not reach the output.
TEST(CnnInference, ReusedScratchLeavesNoTrace) {
  auto big = CnnNetwork::create(CnnArch{});
  auto small = CnnNetwork::create(odd_arch());
  ASSERT_TRUE(big.ok() && small.ok());
  const auto pb = weights(*big, 45), ps = weights(*small, 46);
  const std::size_t n = 5;
  const auto xb = random_vector(4 * big->num_features(), 47);
  const auto xs = random_vector(n * small->num_features(), 48);

  InferenceScratch fresh;
  std::vector<float> expected(n * 3);
  inference_forward(small->arch(), small->layout(), ps.data(), xs.data(), n, expected.data(),
                    fresh);

  InferenceScratch used;
  std::vector<float> unused(4 * 2), got(n * 3);
  inference_forward(big->arch(), big->layout(), pb.data(), xb.data(), 4, unused.data(), used);
  std::fill(used.buffer.begin(), used.buffer.end(), std::numeric_limits<float>::quiet_NaN());
  inference_forward(small->arch(), small->layout(), ps.data(), xs.data(), n, got.data(), used);
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace mls::cnn
