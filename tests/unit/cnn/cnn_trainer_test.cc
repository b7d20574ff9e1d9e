#include "models/cnn/cnn_trainer.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "models/cnn/cnn_random.h"
#include "models/cnn/conv_net.h"

namespace mls::cnn {
namespace {

constexpr std::size_t kSide = 8;

// Two classes of side x side gray images: 0 has the bright half on the left, 1 on the right.
// Brightness, contrast and noise vary, so the net has to learn the halves, not a pixel.
struct Batch {
  Matrix x;
  std::vector<int> y;
};
Batch halves(std::size_t n, std::uint64_t seed) {
  SplitMix64 rng(seed);
  Batch b;
  b.x.rows = n;
  b.x.cols = kSide * kSide;
  b.x.values.resize(n * kSide * kSide);
  for (std::size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng.next() & 1);
    const float bright = 0.5f + 0.5f * rng.uniform01();
    const float dark = -0.5f * rng.uniform01();
    for (std::size_t r = 0; r < kSide; ++r) {
      for (std::size_t c = 0; c < kSide; ++c) {
        const bool left = c < kSide / 2;
        const float base = (left == (label == 0)) ? bright : dark;
        b.x.at(i, r * kSide + c) = base + rng.uniform_symmetric(0.3f);
      }
    }
    b.y.push_back(label);
  }
  return b;
}

CnnArch small_arch() {
  CnnArch a;
  a.input_size = kSide;
  a.num_classes = 2;
  a.conv1_channels = 4;
  a.conv2_channels = 8;
  a.hidden = 16;
  a.dropout = 0.25f;
  return a;
}

AdamParams adam() {
  AdamParams p;
  p.learning_rate = 3e-3f;
  return p;
}

void train(CnnTrainer& t, int steps, std::uint64_t data_seed, std::vector<float>* losses) {
  for (int s = 0; s < steps; ++s) {
    const Batch b = halves(16, data_seed + static_cast<std::uint64_t>(s));
    auto loss = t.train_step(b.x.view(), b.y);
    ASSERT_TRUE(loss.ok()) << loss.error().message;
    if (losses != nullptr) losses->push_back(*loss);
  }
}

TEST(CnnTrainer, LearnsLeftVersusRightHalves) {
  auto trainer = CnnTrainer::create(small_arch(), adam(), 1);
  ASSERT_TRUE(trainer.ok());
  std::vector<float> losses;
  train(*trainer, 300, 1000, &losses);
  float first = 0, last = 0;
  for (int i = 0; i < 20; ++i)
    first += losses[static_cast<std::size_t>(i)];
  for (std::size_t i = losses.size() - 20; i < losses.size(); ++i)
    last += losses[i];
  EXPECT_LT(last, first * 0.5f);

  ModelInfo info;
  info.model_type = "cnn";
  info.input_kind = InputKind::kImage;
  info.num_features = kSide * kSide;
  info.image.size = kSide;
  info.class_labels = {0, 1};
  info.class_names = {"left", "right"};
  auto model = ConvNet::create(info, small_arch(), trainer->params());
  ASSERT_TRUE(model.ok()) << model.error().message;
  const Batch test = halves(400, 777777);
  std::vector<float> probs(400 * 2);
  model->predict_proba(test.x.view(), probs);
  int correct = 0;
  for (std::size_t i = 0; i < 400; ++i) {
    const int predicted = probs[i * 2 + 1] > probs[i * 2] ? 1 : 0;
    correct += predicted == test.y[i];
  }
  EXPECT_GE(correct, 380) << "accuracy " << correct / 4.0 << " %";
}

TEST(CnnTrainer, SameSeedGivesIdenticalParameters) {
  auto a = CnnTrainer::create(small_arch(), adam(), 42);
  auto b = CnnTrainer::create(small_arch(), adam(), 42);
  auto c = CnnTrainer::create(small_arch(), adam(), 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  train(*a, 25, 5, nullptr);
  train(*b, 25, 5, nullptr);
  train(*c, 25, 5, nullptr);
  EXPECT_EQ(a->params(), b->params());  // bit for bit
  EXPECT_NE(a->params(), c->params());
  EXPECT_EQ(a->optimizer().steps(), 25u);
}

TEST(CnnTrainer, RejectsBadBatches) {
  auto t = CnnTrainer::create(small_arch(), adam(), 1);
  ASSERT_TRUE(t.ok());
  Batch b = halves(4, 1);
  std::vector<int> short_labels = {0, 1};
  EXPECT_EQ(t->train_step(b.x.view(), short_labels).error().code, ErrorCode::kInvalidArgument);
  b.y[2] = 2;
  EXPECT_EQ(t->train_step(b.x.view(), b.y).error().code, ErrorCode::kInvalidArgument);
  MatrixView wrong{b.x.values.data(), 2, 32};
  EXPECT_FALSE(t->train_step(wrong, std::vector<int>{0, 1}).ok());
  EXPECT_FALSE(t->train_step(MatrixView{}, {}).ok());
  AdamParams bad;
  bad.learning_rate = 0;
  EXPECT_FALSE(CnnTrainer::create(small_arch(), bad, 1).ok());
}

}  // namespace
}  // namespace mls::cnn
