#include "models/cnn/cnn_checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "support/temp_dir.h"

namespace mls::cnn {
namespace {

CnnCheckpoint sample() {
  CnnCheckpoint c;
  c.fingerprint = std::string(64, 'a');
  c.epoch = 3;
  c.batch = 17;
  c.epoch_loss_sum = 0.1 + 0.2;  // not exactly representable in short decimal
  c.epoch_images = 1088;
  c.params = {1.0f, -2.5f, std::nextafter(1.0f, 2.0f), 1e-30f};
  c.adam_m = {0.1f, 0.2f, 0.3f, 0.4f};
  c.adam_v = {1e-8f, 2e-8f, 3e-8f, std::numeric_limits<float>::denorm_min()};
  c.adam_steps = 1234;
  c.dropout_state = 0xFEDCBA9876543210ULL;
  c.has_best = true;
  c.best_auc = 0.9876543210987654;
  c.best_loss = 1.0 / 3.0;
  c.best_epoch = 2;
  c.epochs_without_improvement = 1;
  c.best_params = {4.0f, 3.0f, 2.0f, 1.0f};
  c.history = {{1, 0.7, true, 0.5, 0.8, 0.9, true},
               {2, 0.6, true, 0.4, 0.85, 0.95, true},
               {3, 0.55, true, 0.45, 0.84, 0.94, false}};
  return c;
}

void expect_same(const CnnCheckpoint& a, const CnnCheckpoint& b) {
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.batch, b.batch);
  EXPECT_EQ(a.epoch_loss_sum, b.epoch_loss_sum);  // bit-exact doubles
  EXPECT_EQ(a.epoch_images, b.epoch_images);
  EXPECT_EQ(a.finished, b.finished);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.adam_m, b.adam_m);
  EXPECT_EQ(a.adam_v, b.adam_v);
  EXPECT_EQ(a.adam_steps, b.adam_steps);
  EXPECT_EQ(a.dropout_state, b.dropout_state);
  EXPECT_EQ(a.has_best, b.has_best);
  EXPECT_EQ(a.best_auc, b.best_auc);
  EXPECT_EQ(a.best_loss, b.best_loss);
  EXPECT_EQ(a.best_epoch, b.best_epoch);
  EXPECT_EQ(a.epochs_without_improvement, b.epochs_without_improvement);
  EXPECT_EQ(a.best_params, b.best_params);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (std::size_t i = 0; i < a.history.size(); ++i) {
    EXPECT_EQ(a.history[i].epoch, b.history[i].epoch);
    EXPECT_EQ(a.history[i].train_loss, b.history[i].train_loss);
    EXPECT_EQ(a.history[i].validation_auc, b.history[i].validation_auc);
    EXPECT_EQ(a.history[i].improved, b.history[i].improved);
  }
}

TEST(CnnCheckpoint, RoundTripsEveryFieldExactly) {
  const CnnCheckpoint c = sample();
  const std::string bytes = encode_checkpoint(c);
  EXPECT_EQ(bytes.substr(0, 8), "MLSCKPT1");
  auto back = decode_checkpoint(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  expect_same(c, *back);
  EXPECT_EQ(encode_checkpoint(*back), bytes);
}

TEST(CnnCheckpoint, EmptyBestParamsRoundTrip) {
  CnnCheckpoint c = sample();
  c.has_best = false;
  c.best_params.clear();
  c.finished = true;
  auto back = decode_checkpoint(encode_checkpoint(c));
  ASSERT_TRUE(back.ok()) << back.error().message;
  expect_same(c, *back);
}

TEST(CnnCheckpoint, RejectsDamage) {
  const std::string bytes = encode_checkpoint(sample());
  for (std::size_t at :
       {std::size_t{0}, std::size_t{9}, std::size_t{20}, bytes.size() - 80, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    auto r = decode_checkpoint(bad);
    ASSERT_FALSE(r.ok()) << "flipped byte " << at;
    EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  }
  for (std::size_t keep : {std::size_t{0}, std::size_t{8}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_FALSE(decode_checkpoint(bytes.substr(0, keep)).ok()) << "truncated to " << keep;
  }
}

TEST(CnnCheckpoint, FileLifecycle) {
  testing::TempDir tmp;
  const auto dir = tmp.path() / "nested" / "ckpt";
  auto none = read_checkpoint(dir);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(write_checkpoint(dir, sample()).ok());
  EXPECT_TRUE(std::filesystem::exists(checkpoint_path(dir)));
  auto read = read_checkpoint(dir);
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_TRUE(read->has_value());
  expect_same(sample(), **read);

  tmp.write("nested/ckpt/cnn-checkpoint.bin", "garbage");
  auto bad = read_checkpoint(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("cnn-checkpoint.bin"), std::string::npos);

  ASSERT_TRUE(remove_checkpoint(dir).ok());
  EXPECT_FALSE(std::filesystem::exists(checkpoint_path(dir)));
  EXPECT_TRUE(remove_checkpoint(dir).ok()) << "removing a missing checkpoint is fine";
}

}  // namespace
}  // namespace mls::cnn
