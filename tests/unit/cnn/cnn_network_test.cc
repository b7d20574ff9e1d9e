#include "models/cnn/cnn_network.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "cnn/cnn_test_util.h"

namespace mls::cnn {
namespace {

using testing::expect_grad_near;
using testing::random_vector;

CnnArch tiny_arch() {
  CnnArch a;
  a.input_size = 8;
  a.num_classes = 3;
  a.conv1_channels = 3;
  a.conv2_channels = 4;
  a.hidden = 6;
  a.dropout = 0.5f;
  return a;
}

TEST(CnnNetwork, LayoutCoversEveryParameterOnce) {
  const CnnLayout l = make_layout(CnnArch{});  // 28x28, 16 / 32 / 64, 2 classes
  EXPECT_EQ(l.s2, 14u);
  EXPECT_EQ(l.s3, 7u);
  EXPECT_EQ(l.flat, 7u * 7u * 32u);
  EXPECT_EQ(l.num_params, 9u * 16 + 16 + 9u * 16 * 32 + 32 + 1568u * 64 + 64 + 64u * 2 + 2);
  EXPECT_EQ(l.fc2_b + 2, l.num_params);
}

TEST(CnnNetwork, RejectsBadArchitectures) {
  CnnArch a;
  a.num_classes = 1;
  EXPECT_FALSE(CnnNetwork::create(a).ok());
  a = CnnArch{};
  a.input_size = 3;
  EXPECT_FALSE(CnnNetwork::create(a).ok());
  a = CnnArch{};
  a.dropout = 1.0f;
  EXPECT_FALSE(CnnNetwork::create(a).ok());
  EXPECT_EQ(CnnNetwork::create(a).error().code, ErrorCode::kInvalidArgument);
}

TEST(CnnNetwork, HeInitIsSeededAndScaled) {
  auto net = CnnNetwork::create(CnnArch{});
  ASSERT_TRUE(net.ok());
  const auto p1 = net->init_params(7), p2 = net->init_params(7), p3 = net->init_params(8);
  EXPECT_EQ(p1, p2);
  EXPECT_NE(p1, p3);
  const CnnLayout& l = net->layout();
  // fc1: U(-sqrt(6/1568), +sqrt(6/1568)); its variance is 2 / fan_in.
  double sq = 0;
  const std::size_t count = l.fc1_b - l.fc1_w;
  for (std::size_t i = l.fc1_w; i < l.fc1_b; ++i) {
    ASSERT_LE(std::fabs(p1[i]), std::sqrt(6.0f / 1568.0f));
    sq += static_cast<double>(p1[i]) * p1[i];
  }
  EXPECT_NEAR(sq / count, 2.0 / 1568.0, 0.1 * 2.0 / 1568.0);
  for (std::size_t i = l.fc1_b; i < l.fc2_w; ++i)
    EXPECT_EQ(p1[i], 0.0f);
}

// The whole network's loss against finite differences, for the largest-gradient parameters of
// every tensor, with dropout on (a fixed mask seed gives the same mask each pass).
TEST(CnnNetwork, LossGradientMatchesFiniteDifferences) {
  auto net = CnnNetwork::create(tiny_arch());
  ASSERT_TRUE(net.ok());
  auto params = net->init_params(3);
  // Non-zero biases so no ReLU sits exactly on its kink.
  for (float& v : params)
    v += 0.01f;
  const std::size_t n = 4;
  const auto x = random_vector(n * net->num_features(), 21);
  const std::vector<int> labels = {0, 1, 2, 1};
  CnnScratch scratch;
  std::vector<float> grad(net->num_params()), unused(net->num_params());
  const float loss = net->loss_and_gradient(params, x.data(), labels.data(), n, 99, grad, scratch);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GT(loss, 0.0f);

  const CnnLayout& l = net->layout();
  const std::vector<std::size_t> starts = {l.conv1_w, l.conv1_b, l.conv2_w, l.conv2_b,   l.fc1_w,
                                           l.fc1_b,   l.fc2_w,   l.fc2_b,   l.num_params};
  const float eps = 2e-3f;
  int checked = 0;
  for (std::size_t t = 0; t + 1 < starts.size(); ++t) {
    std::vector<std::size_t> idx(starts[t + 1] - starts[t]);
    std::iota(idx.begin(), idx.end(), starts[t]);
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
      return std::fabs(grad[a]) > std::fabs(grad[b]);
    });
    idx.resize(std::min<std::size_t>(idx.size(), 3));
    for (const std::size_t i : idx) {
      const float saved = params[i];
      params[i] = saved + eps;
      const double up =
          net->loss_and_gradient(params, x.data(), labels.data(), n, 99, unused, scratch);
      params[i] = saved - eps;
      const double down =
          net->loss_and_gradient(params, x.data(), labels.data(), n, 99, unused, scratch);
      params[i] = saved;
      expect_grad_near(grad[i], (up - down) / (2.0 * eps), "param", i, 2e-4);
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
}

TEST(CnnNetwork, PredictIsTheSoftmaxOfTheInferencePass) {
  auto net = CnnNetwork::create(tiny_arch());
  ASSERT_TRUE(net.ok());
  const auto params = net->init_params(5);
  const std::size_t n = 5;
  const auto x = random_vector(n * net->num_features(), 22);
  std::vector<float> probs(n * 3);
  CnnScratch scratch;
  net->predict(params, x.data(), n, probs.data(), scratch);
  for (std::size_t r = 0; r < n; ++r) {
    EXPECT_NEAR(probs[r * 3] + probs[r * 3 + 1] + probs[r * 3 + 2], 1.0f, 1e-6);
  }
}

}  // namespace
}  // namespace mls::cnn
