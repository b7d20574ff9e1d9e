#include "models/cnn/cnn_training.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "models/cnn/cnn_random.h"
#include "support/temp_dir.h"

namespace mls::cnn {
namespace {

constexpr std::size_t kSide = 8;

// Two classes of kSide x kSide images in [0, 1]: class 0 is bright on the left, 1 on the right,
// with random brightness and noise.
ImageSet halves(std::size_t n, std::uint64_t seed) {
  SplitMix64 rng(seed);
  ImageSet set;
  set.size = kSide;
  for (std::size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng.next() & 1);
    const float bright = 0.6f + 0.3f * rng.uniform01();
    const float dark = 0.1f + 0.2f * rng.uniform01();
    for (std::size_t r = 0; r < kSide; ++r) {
      for (std::size_t c = 0; c < kSide; ++c) {
        const bool left = c < kSide / 2;
        const float v = ((left == (label == 0)) ? bright : dark) + rng.uniform_symmetric(0.1f);
        set.pixels.push_back(std::clamp(v, 0.0f, 1.0f));
      }
    }
    set.labels.push_back(label);
  }
  return set;
}

CnnTrainingParams small_params() {
  CnnTrainingParams p;
  p.arch.input_size = kSide;
  p.arch.num_classes = 2;
  p.arch.conv1_channels = 4;
  p.arch.conv2_channels = 8;
  p.arch.hidden = 16;
  p.arch.dropout = 0.25f;
  p.epochs = 4;
  p.batch_size = 16;
  p.adam.learning_rate = 3e-3f;
  p.seed = 7;
  p.early_stopping_patience = 0;
  return p;
}

struct TrainRun {
  Result<CnnTrainingResult> result = make_error(ErrorCode::kInternal, "not run");
  std::vector<std::string> notes, warnings;
  std::vector<EpochRecord> epochs;  // as reported by on_epoch
};

// Trains; when stop_at is set, raises the stop flag after that (epoch, batch).
TrainRun train(const ImageSet& tr, const ImageSet& val, const CnnTrainingParams& p,
               const std::filesystem::path& dir,
               std::optional<std::pair<std::size_t, std::size_t>> stop_at = std::nullopt,
               const std::function<void(std::size_t, std::size_t)>& hook = {}) {
  TrainRun run;
  std::atomic<bool> stop{false};
  CnnTrainingEvents events;
  events.on_epoch = [&](const EpochRecord& r, double) { run.epochs.push_back(r); };
  events.on_batch = [&](std::size_t epoch, std::size_t batch) {
    if (stop_at && stop_at->first == epoch && stop_at->second == batch) stop = true;
    if (hook) hook(epoch, batch);
  };
  events.on_note = [&](const std::string& s) { run.notes.push_back(s); };
  events.on_warning = [&](const std::string& s) { run.warnings.push_back(s); };
  run.result = train_cnn(tr, val, p, dir, &stop, events);
  return run;
}

class CnnTrainingTest : public ::testing::Test {
 protected:
  ImageSet train_set = halves(120, 1);  // 8 mini-batches of 16 (the last one 8)
  ImageSet val_set = halves(60, 2);
};

TEST_F(CnnTrainingTest, LearnsAndReportsEveryEpoch) {
  CnnTrainingParams p = small_params();
  p.epochs = 6;
  TrainRun run = train(train_set, val_set, p, {});
  ASSERT_TRUE(run.result.ok()) << run.result.error().message;
  ASSERT_EQ(run.epochs.size(), 6u);
  EXPECT_EQ(run.result->history.size(), 6u);
  EXPECT_LT(run.epochs.back().train_loss, run.epochs.front().train_loss);
  EXPECT_GE(run.result->history[run.result->best_epoch - 1].validation_auc, 0.95);
  EXPECT_GT(run.result->normalisation.mean, 0.2f);
  EXPECT_GT(run.result->normalisation.std, 0.1f);
}

TEST_F(CnnTrainingTest, SameSeedSameBitsOtherSeedOtherBits) {
  CnnTrainingParams p = small_params();
  TrainRun a = train(train_set, val_set, p, {});
  TrainRun b = train(train_set, val_set, p, {});
  p.seed = 8;
  TrainRun c = train(train_set, val_set, p, {});
  ASSERT_TRUE(a.result.ok() && b.result.ok() && c.result.ok());
  EXPECT_EQ(a.result->params, b.result->params);
  EXPECT_NE(a.result->params, c.result->params);
}

TEST_F(CnnTrainingTest, ResumeAfterStopEqualsUninterrupted) {
  const CnnTrainingParams p = small_params();
  const TrainRun reference = train(train_set, val_set, p, {});
  ASSERT_TRUE(reference.result.ok());
  // Mid-epoch, at the last mini-batch of an epoch, and twice in a row in the same run.
  const std::vector<std::vector<std::pair<std::size_t, std::size_t>>> plans = {
      {{1, 2}}, {{0, 7}}, {{0, 3}, {2, 5}}};
  for (const auto& plan : plans) {
    testing::TempDir dir;
    for (const auto& at : plan) {
      TrainRun stopped = train(train_set, val_set, p, dir.path(), at);
      ASSERT_FALSE(stopped.result.ok());
      EXPECT_EQ(stopped.result.error().code, ErrorCode::kDeadlineExceeded);
      EXPECT_NE(stopped.result.error().message.find("checkpoint written"), std::string::npos)
          << stopped.result.error().message;
      ASSERT_TRUE(std::filesystem::exists(checkpoint_path(dir.path())));
    }
    TrainRun resumed = train(train_set, val_set, p, dir.path());
    ASSERT_TRUE(resumed.result.ok()) << resumed.result.error().message;
    EXPECT_TRUE(resumed.warnings.empty());
    ASSERT_FALSE(resumed.notes.empty());
    EXPECT_NE(resumed.notes.front().find("resuming"), std::string::npos);
    EXPECT_EQ(resumed.result->params, reference.result->params)
        << "plan starts at epoch " << plan.front().first;
    ASSERT_EQ(resumed.result->history.size(), reference.result->history.size());
    for (std::size_t e = 0; e < resumed.result->history.size(); ++e) {
      EXPECT_EQ(resumed.result->history[e].train_loss, reference.result->history[e].train_loss);
      EXPECT_EQ(resumed.result->history[e].validation_auc,
                reference.result->history[e].validation_auc);
    }
    EXPECT_EQ(resumed.result->best_epoch, reference.result->best_epoch);
  }
}

TEST_F(CnnTrainingTest, EndOfEpochCheckpointAloneResumesExactly) {
  // As after a SIGKILL in epoch 3: only the checkpoint written at the end of epoch 2 is left.
  const CnnTrainingParams p = small_params();
  testing::TempDir dir;
  std::string saved;
  TrainRun full = train(train_set, val_set, p, dir.path(), std::nullopt,
                        [&](std::size_t epoch, std::size_t batch) {
                          if (epoch == 2 && batch == 0)
                            saved = testing::slurp(checkpoint_path(dir.path()));
                        });
  ASSERT_TRUE(full.result.ok());
  ASSERT_FALSE(saved.empty());
  auto checkpoint = decode_checkpoint(saved);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.error().message;
  EXPECT_EQ(checkpoint->epoch, 2u);
  EXPECT_EQ(checkpoint->batch, 0u);
  EXPECT_EQ(checkpoint->history.size(), 2u);
  dir.write(std::string(kCheckpointFileName), saved);
  TrainRun resumed = train(train_set, val_set, p, dir.path());
  ASSERT_TRUE(resumed.result.ok());
  EXPECT_EQ(resumed.result->resumed_at_epoch, 3u);
  EXPECT_EQ(resumed.result->params, full.result->params);
  EXPECT_EQ(resumed.epochs.size(), 2u) << "only epochs 3 and 4 are left to run";

  // The checkpoint written after the last epoch says there is nothing left to train.
  TrainRun again = train(train_set, val_set, p, dir.path());
  ASSERT_TRUE(again.result.ok());
  EXPECT_TRUE(again.epochs.empty());
  EXPECT_EQ(again.result->params, full.result->params);
}

TEST_F(CnnTrainingTest, CheckpointOfAnotherJobIsIgnoredWithAWarning) {
  CnnTrainingParams p = small_params();
  testing::TempDir dir;
  ASSERT_FALSE(train(train_set, val_set, p, dir.path(), std::pair{1, 1}).result.ok());
  const TrainRun fresh_reference = [&] {
    CnnTrainingParams q = p;
    q.adam.learning_rate = 2e-3f;
    return train(train_set, val_set, q, {});
  }();
  p.adam.learning_rate = 2e-3f;  // another job: a different learning rate
  TrainRun other = train(train_set, val_set, p, dir.path());
  ASSERT_TRUE(other.result.ok());
  ASSERT_EQ(other.warnings.size(), 1u);
  EXPECT_NE(other.warnings[0].find("other hyperparameters or data"), std::string::npos);
  EXPECT_EQ(other.result->resumed_at_epoch, 0u);
  EXPECT_EQ(other.result->params, fresh_reference.result->params);

  // Other data, same settings: also a different job.
  testing::TempDir dir2;
  ASSERT_FALSE(train(train_set, val_set, p, dir2.path(), std::pair{0, 1}).result.ok());
  TrainRun other_data = train(halves(120, 3), val_set, p, dir2.path());
  ASSERT_TRUE(other_data.result.ok());
  EXPECT_EQ(other_data.warnings.size(), 1u);
}

TEST_F(CnnTrainingTest, CorruptCheckpointIsIgnoredWithAWarning) {
  const CnnTrainingParams p = small_params();
  testing::TempDir dir;
  dir.write(std::string(kCheckpointFileName), "MLSCKPT1 but not really");
  TrainRun run = train(train_set, val_set, p, dir.path());
  ASSERT_TRUE(run.result.ok());
  ASSERT_EQ(run.warnings.size(), 1u);
  EXPECT_NE(run.warnings[0].find(kCheckpointFileName), std::string::npos) << run.warnings[0];
}

TEST_F(CnnTrainingTest, EarlyStoppingKeepsTheBestEpoch) {
  CnnTrainingParams p = small_params();
  p.epochs = 40;
  p.early_stopping_patience = 2;
  // Labels unrelated to the images: validation AUC wanders, so it stops improving soon.
  ImageSet noise = val_set;
  SplitMix64 rng(99);
  for (int& label : noise.labels)
    label = static_cast<int>(rng.next() & 1);
  TrainRun run = train(train_set, noise, p, {});
  ASSERT_TRUE(run.result.ok());
  const auto& r = *run.result;
  ASSERT_TRUE(r.stopped_early) << "no improvement for 2 of 40 epochs should come soon";
  EXPECT_EQ(r.history.size(), r.best_epoch + 2);
  EXPECT_TRUE(r.history[r.best_epoch - 1].improved);
  for (std::size_t e = r.best_epoch; e < r.history.size(); ++e)
    EXPECT_FALSE(r.history[e].improved);
  // The kept weights are the best epoch's: rerunning only that many epochs gives them.
  CnnTrainingParams upto = p;
  upto.epochs = r.best_epoch;
  upto.early_stopping_patience = 0;
  TrainRun shorter = train(train_set, noise, upto, {});
  ASSERT_TRUE(shorter.result.ok());
  EXPECT_EQ(shorter.result->params, r.params);
}

TEST_F(CnnTrainingTest, WithoutValidationKeepsTheLastEpoch) {
  CnnTrainingParams p = small_params();
  p.early_stopping_patience = 1;
  TrainRun run = train(train_set, ImageSet{}, p, {});
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(run.result->history.size(), p.epochs);
  EXPECT_EQ(run.result->best_epoch, 0u);
  EXPECT_FALSE(run.result->history[0].has_validation);
}

TEST_F(CnnTrainingTest, StopWithoutCheckpointDirSaysSo) {
  TrainRun run = train(train_set, val_set, small_params(), {}, std::pair{0, 0});
  ASSERT_FALSE(run.result.ok());
  EXPECT_EQ(run.result.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_NE(run.result.error().message.find("no checkpoint"), std::string::npos);
}

TEST_F(CnnTrainingTest, RejectsInconsistentInputs) {
  CnnTrainingParams p = small_params();
  EXPECT_FALSE(train(ImageSet{}, val_set, p, {}).result.ok());
  p.arch.input_size = 16;
  EXPECT_FALSE(train(train_set, val_set, p, {}).result.ok());
  p = small_params();
  ImageSet bad = train_set;
  bad.labels[3] = 5;
  EXPECT_FALSE(train(bad, val_set, p, {}).result.ok());
}

TEST(Fingerprint, CoversSettingsAndData) {
  const ImageSet a = halves(10, 1), v = halves(4, 2);
  CnnTrainingParams p = small_params();
  const std::string base = training_fingerprint(a, v, p);
  EXPECT_EQ(base, training_fingerprint(a, v, p));
  EXPECT_EQ(base.size(), 64u);
  CnnTrainingParams q = p;
  q.epochs = 5;
  EXPECT_NE(base, training_fingerprint(a, v, q));
  q = p;
  q.augment = false;
  EXPECT_NE(base, training_fingerprint(a, v, q));
  ImageSet b = a;
  b.pixels[5] += 0.001f;
  EXPECT_NE(base, training_fingerprint(b, v, p));
  ImageSet w = v;
  w.labels[0] = 1 - w.labels[0];
  EXPECT_NE(base, training_fingerprint(a, w, p));
}

}  // namespace
}  // namespace mls::cnn
