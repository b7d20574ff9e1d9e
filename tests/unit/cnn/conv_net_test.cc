#include "models/cnn/conv_net.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cnn/cnn_test_util.h"

namespace mls {
namespace {

using cnn::testing::random_vector;

ModelInfo image_info(std::size_t side, std::size_t classes) {
  ModelInfo info;
  info.model_type = "cnn";
  info.input_kind = InputKind::kImage;
  info.num_features = side * side;
  info.image.size = side;
  for (std::size_t c = 0; c < classes; ++c) {
    info.class_labels.push_back(static_cast<double>(c));
    info.class_names.push_back("class" + std::to_string(c));
  }
  return info;
}

ConvNet make_net(std::size_t side, std::size_t classes) {
  cnn::CnnArch arch;
  arch.input_size = side;
  arch.num_classes = classes;
  auto net = cnn::CnnNetwork::create(arch);
  auto model = ConvNet::create(image_info(side, classes), arch, net->init_params(11));
  EXPECT_TRUE(model.ok());
  return std::move(*model);
}

TEST(ConvNet, BatchEqualsOneByOneAndRowsSumToOne) {
  const ConvNet net = make_net(28, 3);
  const std::size_t n = ConvNet::kBlock + 6;  // crosses a block boundary
  const auto x = random_vector(n * 784, 31);
  std::vector<float> batch(n * 3);
  net.predict_proba(MatrixView{x.data(), n, 784}, batch);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<float> one(3);
    net.predict_proba(MatrixView{x.data() + i * 784, 1, 784}, one);
    for (std::size_t c = 0; c < 3; ++c)
      EXPECT_NEAR(one[c], batch[i * 3 + c], 1e-5f);
    EXPECT_NEAR(batch[i * 3] + batch[i * 3 + 1] + batch[i * 3 + 2], 1.0f, 1e-5f);
  }
}

// The served path (direct first block, Winograd, grouped first dense layer) makes the same calls
// for an image whatever batch it comes in: the bits agree, not just the values.
TEST(ConvNet, BatchEqualsOneByOneBitForBit) {
  const ConvNet net = make_net(28, 2);
  const std::size_t n = 9;
  const auto x = random_vector(n * 784, 32, 2.0f);
  std::vector<float> batch(n * 2), one(2);
  net.predict_proba(MatrixView{x.data(), n, 784}, batch);
  for (std::size_t i = 0; i < n; ++i) {
    net.predict_proba(MatrixView{x.data() + i * 784, 1, 784}, one);
    EXPECT_EQ(one[0], batch[2 * i]) << "image " << i;
    EXPECT_EQ(one[1], batch[2 * i + 1]) << "image " << i;
  }
}

TEST(ConvNet, ThreadsShareOneInstance) {
  const ConvNet net = make_net(12, 2);
  const std::size_t n = 9;
  const auto x = random_vector(n * 144, 32);
  std::vector<float> expected(n * 2);
  net.predict_proba(MatrixView{x.data(), n, 144}, expected);
  std::vector<std::vector<float>> got(4, std::vector<float>(n * 2));
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep)
        net.predict_proba(MatrixView{x.data(), n, 144}, got[t]);
    });
  }
  for (auto& th : threads)
    th.join();
  for (const auto& g : got)
    EXPECT_EQ(g, expected);
}

TEST(ConvNet, ChecksInfoAndWeights) {
  cnn::CnnArch arch;
  arch.input_size = 12;
  auto net = cnn::CnnNetwork::create(arch);
  ASSERT_TRUE(net.ok());
  const auto params = net->init_params(1);
  EXPECT_TRUE(ConvNet::create(image_info(12, 2), arch, params).ok());
  EXPECT_EQ(ConvNet::create(image_info(13, 2), arch, params).error().code, ErrorCode::kDataLoss);
  EXPECT_FALSE(ConvNet::create(image_info(12, 3), arch, params).ok());
  auto shorter = params;
  shorter.pop_back();
  EXPECT_FALSE(ConvNet::create(image_info(12, 2), arch, shorter).ok());
  auto nan = params;
  nan[5] = std::nanf("");
  EXPECT_FALSE(ConvNet::create(image_info(12, 2), arch, nan).ok());
  ModelInfo tabular = image_info(12, 2);
  tabular.input_kind = InputKind::kTabular;
  EXPECT_FALSE(ConvNet::create(tabular, arch, params).ok());
}

}  // namespace
}  // namespace mls
