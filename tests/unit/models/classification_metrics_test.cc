#include "models/eval/classification_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mls {
namespace {

double auc(const std::vector<int>& positive, const std::vector<float>& scores) {
  return roc_auc(positive, scores);
}

TEST(ClassificationMetricsTest, RocAucHandComputed) {
  // Sorted: 0.1 (-), 0.35 (+), 0.4 (-), 0.8 (+): 3 of 4 positive/negative pairs ordered right.
  EXPECT_DOUBLE_EQ(auc({0, 0, 1, 1}, {0.1f, 0.4f, 0.35f, 0.8f}), 0.75);
  EXPECT_DOUBLE_EQ(auc({0, 0, 1, 1}, {0.1f, 0.2f, 0.8f, 0.9f}), 1.0);
  EXPECT_DOUBLE_EQ(auc({1, 1, 0, 0}, {0.1f, 0.2f, 0.8f, 0.9f}), 0.0);
  // 1 positive, 2 negatives, one on each side.
  EXPECT_DOUBLE_EQ(auc({0, 1, 0}, {0.9f, 0.5f, 0.1f}), 0.5);
}

TEST(ClassificationMetricsTest, RocAucTiesCountHalf) {
  // Pairs: (0.5+ vs 0.2-) 1, (0.5+ vs 0.5-) 1/2, (0.9+ vs both) 2: 3.5 / 4.
  EXPECT_DOUBLE_EQ(auc({0, 0, 1, 1}, {0.2f, 0.5f, 0.5f, 0.9f}), 0.875);
  // Positives 0.3 and 0.7 against negatives 0.3, 0.3, 0.1: (0.5 + 0.5 + 1) + 3 = 5 of 6.
  EXPECT_DOUBLE_EQ(auc({1, 0, 0, 1, 0}, {0.3f, 0.3f, 0.3f, 0.7f, 0.1f}), 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(auc({0, 1, 0, 1}, {0.5f, 0.5f, 0.5f, 0.5f}), 0.5);
}

TEST(ClassificationMetricsTest, RocAucDoesNotDependOnRowOrder) {
  EXPECT_DOUBLE_EQ(auc({1, 0, 0, 1, 0}, {0.3f, 0.3f, 0.3f, 0.7f, 0.1f}),
                   auc({0, 1, 0, 0, 1}, {0.1f, 0.7f, 0.3f, 0.3f, 0.3f}));
}

TEST(ClassificationMetricsTest, RocAucOfOneClassIsOneHalf) {
  EXPECT_EQ(auc({1, 1, 1}, {0.1f, 0.5f, 0.9f}), 0.5);
  EXPECT_EQ(auc({0, 0}, {0.1f, 0.9f}), 0.5);
  EXPECT_EQ(auc({}, {}), 0.5);
}

TEST(ClassificationMetricsTest, BinaryScoresHandComputed) {
  const std::vector<int> labels = {0, 1, 1, 0};
  // Predictions: 0, 1, 0, and 0 for the tie (the first maximum wins).
  const std::vector<float> proba = {0.8f, 0.2f, 0.3f, 0.7f, 0.6f, 0.4f, 0.5f, 0.5f};
  const ClassificationScores s = score_classifier(labels, proba, 2);
  EXPECT_DOUBLE_EQ(s.accuracy, 0.75);
  // Class 1: tp 1, fp 0, fn 1.
  EXPECT_DOUBLE_EQ(s.f1, 2.0 / 3.0);
  // Class-1 scores 0.2 (-), 0.4 (+), 0.5 (-), 0.7 (+).
  EXPECT_DOUBLE_EQ(s.auc, 0.75);
  const double log_loss = -(std::log(0.8) + std::log(0.7) + std::log(0.4) + std::log(0.5)) / 4;
  EXPECT_NEAR(s.log_loss, log_loss, 1e-6);
}

TEST(ClassificationMetricsTest, PerfectBinaryScores) {
  const ClassificationScores s =
      score_classifier(std::vector<int>{0, 1, 1}, std::vector<float>{1, 0, 0, 1, 0, 1}, 2);
  EXPECT_EQ(s.accuracy, 1.0);
  EXPECT_EQ(s.f1, 1.0);
  EXPECT_EQ(s.auc, 1.0);
  EXPECT_EQ(s.log_loss, 0.0);
}

TEST(ClassificationMetricsTest, LogLossClipsZeroProbability) {
  const ClassificationScores s =
      score_classifier(std::vector<int>{1, 0}, std::vector<float>{1, 0, 1, 0}, 2);
  EXPECT_DOUBLE_EQ(s.log_loss, -std::log(1e-15) / 2);
  EXPECT_DOUBLE_EQ(s.accuracy, 0.5);
  EXPECT_EQ(s.f1, 0.0);  // class 1 is never predicted
}

TEST(ClassificationMetricsTest, MultiClassIsMacroAveraged) {
  const std::vector<int> labels = {0, 1, 2, 2};
  const std::vector<float> proba = {
      0.7f, 0.2f, 0.1f,  // predicts 0
      0.3f, 0.4f, 0.3f,  // predicts 1
      0.2f, 0.5f, 0.3f,  // predicts 1 (wrong)
      0.1f, 0.1f, 0.8f,  // predicts 2
  };
  const ClassificationScores s = score_classifier(labels, proba, 3);
  EXPECT_DOUBLE_EQ(s.accuracy, 0.75);
  // F1: class 0 = 1, class 1 = 2/3 (fp 1), class 2 = 2/3 (fn 1).
  EXPECT_DOUBLE_EQ(s.f1, (1.0 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0);
  // AUC one-vs-rest: class 0 = 1, class 1 = 2/3, class 2 = 3.5/4 (a tie at 0.3).
  EXPECT_DOUBLE_EQ(s.auc, (1.0 + 2.0 / 3.0 + 0.875) / 3.0);
  const double log_loss = -(std::log(0.7) + std::log(0.4) + std::log(0.3) + std::log(0.8)) / 4;
  EXPECT_NEAR(s.log_loss, log_loss, 1e-6);
}

TEST(ClassificationMetricsTest, EmptyInputScoresZero) {
  const ClassificationScores s = score_classifier({}, {}, 2);
  EXPECT_EQ(s.accuracy, 0.0);
  EXPECT_EQ(s.auc, 0.0);
  EXPECT_EQ(s.f1, 0.0);
  EXPECT_EQ(s.log_loss, 0.0);
}

}  // namespace
}  // namespace mls
