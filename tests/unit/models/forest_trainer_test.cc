#include "models/forest/forest_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/data/csv.h"
#include "models/eval/classification_metrics.h"
#include "support/forest_compare.h"
#include "support/temp_dir.h"

namespace mls {
namespace {

// A tiny generator written here so the data does not depend on the library's own RNG.
class TestRng {
 public:
  explicit TestRng(std::uint64_t seed) : state_(seed * 2862933555777941757ULL + 3037000493ULL) {}
  double uniform() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state_ >> 11) / 9007199254740992.0;  // [0, 1)
  }

 private:
  std::uint64_t state_;
};

// Three uniform features; label = x0 > 0.3, flipped with probability `noise`.
TabularDataset synthetic(std::size_t n, std::uint64_t seed, double noise = 0.0,
                         double positive_cut = 0.3) {
  TestRng rng(seed);
  TabularDataset d;
  d.x.cols = 3;
  d.x.rows = n;
  d.class_labels = {0, 1};
  for (std::size_t i = 0; i < n; ++i) {
    for (int f = 0; f < 3; ++f)
      d.x.values.push_back(static_cast<float>(rng.uniform()));
    int label = d.x.values[i * 3] > positive_cut ? 1 : 0;
    if (rng.uniform() < noise) label = 1 - label;
    d.y.push_back(label);
  }
  return d;
}

ForestParams small_params(int trees = 10, std::uint64_t seed = 7) {
  ForestParams p;
  p.n_estimators = trees;
  p.seed = seed;
  p.n_jobs = 2;
  return p;
}

ForestTrainResult train_ok(const TabularDataset& data, const ForestParams& params,
                           ModelInfo info = {}) {
  auto result = train_forest(data, params, std::move(info));
  if (!result.ok()) {
    ADD_FAILURE() << result.error().message;
    std::abort();
  }
  return std::move(result).value();
}

std::vector<float> predict(const Model& model, const Matrix& x) {
  std::vector<float> out(x.rows * model.num_classes());
  model.predict_proba(x.view(), out);
  return out;
}

double accuracy(const Model& model, const TabularDataset& data) {
  const std::vector<float> p = predict(model, data.x);
  return score_classifier(data.y, p, model.num_classes()).accuracy;
}

// For each leaf node of each tree, how many rows of x reach it (leaves no row reaches count 0).
std::vector<std::map<std::int32_t, int>> rows_per_leaf(const RandomForest& forest,
                                                       const Matrix& x) {
  const ForestArrays& a = forest.arrays();
  std::vector<std::map<std::int32_t, int>> counts(forest.num_trees());
  for (std::size_t t = 0; t < forest.num_trees(); ++t) {
    const std::int32_t end = t + 1 < a.tree_starts.size()
                                 ? a.tree_starts[t + 1]
                                 : static_cast<std::int32_t>(a.nodes.size());
    for (std::int32_t i = a.tree_starts[t]; i < end; ++i) {
      if (a.nodes[i].feature == ForestNode::kLeaf) counts[t][i] = 0;
    }
    for (std::size_t r = 0; r < x.rows; ++r) {
      std::int32_t i = a.tree_starts[t];
      while (a.nodes[i].feature != ForestNode::kLeaf) {
        i = x.at(r, a.nodes[i].feature) <= a.nodes[i].threshold ? a.nodes[i].left
                                                                : a.nodes[i].right;
      }
      ++counts[t][i];
    }
  }
  return counts;
}

TEST(ForestTrainerTest, LearnsASeparableRule) {
  const ForestTrainResult result = train_ok(synthetic(400, 1), small_params());
  EXPECT_EQ(result.forest.num_trees(), 10u);
  EXPECT_GE(accuracy(result.forest, synthetic(1000, 99)), 0.95);
  // Every row's probabilities sum to 1.
  const std::vector<float> p = predict(result.forest, synthetic(50, 3).x);
  for (std::size_t r = 0; r < 50; ++r)
    EXPECT_NEAR(p[2 * r] + p[2 * r + 1], 1.0f, 1e-5f);
  // Each leaf holds its tree's class distribution.
  const std::vector<float>& leaves = result.forest.arrays().leaf_values;
  for (std::size_t i = 0; i + 1 < leaves.size(); i += 2) {
    EXPECT_NEAR(leaves[i] + leaves[i + 1], 1.0f, 1e-6f) << "leaf " << i / 2;
  }
}

TEST(ForestTrainerTest, FillsTheModelInfo) {
  ModelInfo info;
  info.feature_names = {"a", "b", "c"};
  info.hyperparameters_json = R"({"seed":"7"})";
  TabularDataset data = synthetic(100, 2);
  data.class_labels = {-1, 2.5};
  const ForestTrainResult result = train_ok(data, small_params(2), info);
  const ModelInfo& out = result.forest.info();
  EXPECT_EQ(out.model_type, "forest");
  EXPECT_EQ(out.input_kind, InputKind::kTabular);
  EXPECT_EQ(out.num_features, 3u);
  EXPECT_EQ(out.class_labels, (std::vector<double>{-1, 2.5}));
  EXPECT_EQ(out.class_names, (std::vector<std::string>{"-1", "2.500000"}));
  EXPECT_EQ(out.feature_names, info.feature_names);
  EXPECT_EQ(out.hyperparameters_json, info.hyperparameters_json);
}

TEST(ForestTrainerTest, SameSeedSameForestWhateverTheThreadCount) {
  const TabularDataset data = synthetic(300, 4, 0.1);
  ForestParams one = small_params(8, 11);
  one.n_jobs = 1;
  ForestParams two = one;
  two.n_jobs = 2;
  const ForestTrainResult a = train_ok(data, one);
  const ForestTrainResult b = train_ok(data, two);
  testing::expect_same_arrays(a.forest.arrays(), b.forest.arrays());
  EXPECT_EQ(a.oob_proba, b.oob_proba);
  EXPECT_EQ(a.has_oob, b.has_oob);
}

TEST(ForestTrainerTest, DifferentSeedDifferentForest) {
  const TabularDataset data = synthetic(300, 4, 0.1);
  const ForestTrainResult a = train_ok(data, small_params(4, 1));
  const ForestTrainResult b = train_ok(data, small_params(4, 2));
  EXPECT_TRUE(testing::arrays_differ(a.forest.arrays(), b.forest.arrays()));
}

TEST(ForestTrainerTest, MaxDepthOneGrowsStumps) {
  ForestParams params = small_params(6);
  params.max_depth = 1;
  const ForestTrainResult result = train_ok(synthetic(400, 5, 0.1), params);
  const ForestArrays& a = result.forest.arrays();
  ASSERT_EQ(a.tree_starts.size(), 6u);
  EXPECT_EQ(a.nodes.size(), 18u);
  for (std::size_t t = 0; t < 6; ++t) {
    EXPECT_EQ(a.tree_starts[t], static_cast<std::int32_t>(3 * t));
    EXPECT_NE(a.nodes[3 * t].feature, ForestNode::kLeaf) << "tree " << t;
  }
}

TEST(ForestTrainerTest, MinSamplesLeafIsRespected) {
  const TabularDataset data = synthetic(300, 6, 0.15);
  ForestParams params = small_params(4);
  params.bootstrap = false;
  params.min_samples_leaf = 7;
  const ForestTrainResult result = train_ok(data, params);
  EXPECT_TRUE(result.oob_proba.empty());
  for (const auto& tree : rows_per_leaf(result.forest, data.x)) {
    EXPECT_GT(tree.size(), 2u);  // the noise makes the trees grow
    for (const auto& [node, rows] : tree)
      EXPECT_GE(rows, 7) << "leaf node " << node;
  }
  // Without the limit, noisy rows end up in smaller leaves: the check above has teeth.
  params.min_samples_leaf = 1;
  int smallest = 1 << 30;
  for (const auto& tree : rows_per_leaf(train_ok(data, params).forest, data.x)) {
    for (const auto& [node, rows] : tree)
      smallest = std::min(smallest, rows);
  }
  EXPECT_LT(smallest, 7);
}

TEST(ForestTrainerTest, SplitsBetweenAdjacentAndExtremeValues) {
  // The midpoint of two adjacent floats rounds to one of them; of +-3e38 it overflows.
  for (auto [lo, hi] : {std::pair{1.0f, std::nextafter(1.0f, 2.0f)}, std::pair{-3e38f, 3e38f}}) {
    TabularDataset data;
    data.x = {{lo, hi, lo, hi}, 4, 1};
    data.y = {0, 1, 0, 1};
    data.class_labels = {0, 1};
    ForestParams params = small_params(1);
    params.bootstrap = false;
    const ForestTrainResult result = train_ok(data, params);
    EXPECT_EQ(result.forest.num_nodes(), 3u) << lo;
    EXPECT_EQ(predict(result.forest, data.x), (std::vector<float>{1, 0, 0, 1, 1, 0, 0, 1})) << lo;
  }
}

TEST(ForestTrainerTest, StumpOnManyMixedSignValuesSplitsAtTheBoundary) {
  // 2,000 rows (over the radix sort's threshold) of negative, positive, -0.0 and +0.0 values: the
  // one split must fall between the largest value of class 0 and the smallest of class 1.
  TestRng rng(11);
  TabularDataset data;
  const std::size_t n = 2000;
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i)
    x[i] = i % 97 == 0 ? (i % 2 ? -0.0f : 0.0f) : static_cast<float>(rng.uniform() * 200 - 100);
  float largest_below = -1e30f, smallest_above = 1e30f;
  for (std::size_t i = 0; i < n; ++i) {
    const bool positive = x[i] > -37.25f;
    data.y.push_back(positive ? 1 : 0);
    if (positive)
      smallest_above = std::min(smallest_above, x[i]);
    else
      largest_below = std::max(largest_below, x[i]);
  }
  data.x = {x, n, 1};
  data.class_labels = {0, 1};
  ForestParams params = small_params(1);
  params.bootstrap = false;
  params.max_depth = 1;
  const ForestTrainResult result = train_ok(data, params);
  ASSERT_EQ(result.forest.num_nodes(), 3u);
  const std::vector<float> proba = predict(result.forest, data.x);
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(proba[2 * i + 1], data.y[i] == 1 ? 1.0f : 0.0f) << "row " << i << " x=" << x[i];
  // Probe just either side of the class boundary.
  const std::vector<float> probes = {largest_below, smallest_above};
  EXPECT_EQ(predict(result.forest, {probes, 2, 1}), (std::vector<float>{1, 0, 0, 1}));
}

TEST(ForestTrainerTest, BalancedClassWeightOnAConstantFeatureIsExact) {
  // 90 zeros and 10 ones that no split can separate: one leaf holding the (weighted) class mix.
  TabularDataset data;
  data.x.cols = 1;
  data.x.rows = 100;
  data.x.values.assign(100, 0.0f);
  data.class_labels = {0, 1};
  for (int i = 0; i < 100; ++i)
    data.y.push_back(i < 90 ? 0 : 1);
  ForestParams params = small_params(1);
  params.bootstrap = false;
  const ForestTrainResult plain = train_ok(data, params);
  EXPECT_EQ(plain.forest.num_nodes(), 1u);
  EXPECT_FLOAT_EQ(plain.forest.arrays().leaf_values[0], 0.9f);
  EXPECT_FLOAT_EQ(plain.forest.arrays().leaf_values[1], 0.1f);
  for (ClassWeight cw : {ClassWeight::kBalanced, ClassWeight::kBalancedSubsample}) {
    params.class_weight = cw;
    const ForestTrainResult balanced = train_ok(data, params);
    EXPECT_FLOAT_EQ(balanced.forest.arrays().leaf_values[0], 0.5f);
    EXPECT_FLOAT_EQ(balanced.forest.arrays().leaf_values[1], 0.5f);
  }
}

TEST(ForestTrainerTest, BalancedClassWeightChangesLeafValues) {
  const TabularDataset data = synthetic(400, 8, 0.1, 0.85);  // about 15 % positives
  ForestParams params = small_params(3);
  params.max_depth = 2;
  const ForestTrainResult plain = train_ok(data, params);
  params.class_weight = ClassWeight::kBalanced;
  const ForestTrainResult balanced = train_ok(data, params);
  EXPECT_NE(plain.forest.arrays().leaf_values, balanced.forest.arrays().leaf_values);
}

TEST(ForestTrainerTest, RejectsASingleClassOrNoRows) {
  TabularDataset one_class = synthetic(50, 9);
  one_class.class_labels = {1};
  std::fill(one_class.y.begin(), one_class.y.end(), 0);
  auto r = train_forest(one_class, small_params(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("one class"), std::string::npos) << r.error().message;

  TabularDataset empty;
  empty.class_labels = {0, 1};
  auto e = train_forest(empty, small_params(), {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
}

TEST(ForestTrainerTest, StopFlagEndsTrainingWithDeadlineExceeded) {
  const std::atomic<bool> stop{true};
  auto r = train_forest(synthetic(100, 10), small_params(50), {}, &stop);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kDeadlineExceeded);
}

TEST(ForestTrainerTest, ReportsProgressForEveryTree) {
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  ForestParams params = small_params(5);
  auto r =
      train_forest(synthetic(100, 11), params, {}, nullptr,
                   [&](std::size_t done, std::size_t total) { calls.emplace_back(done, total); });
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls.back(), (std::pair<std::size_t, std::size_t>{5, 5}));
}

TEST(ForestTrainerTest, OutOfBagProbabilitiesWithBootstrap) {
  const TabularDataset data = synthetic(400, 12);
  const ForestTrainResult result = train_ok(data, small_params(20));
  ASSERT_EQ(result.oob_proba.size(), 800u);
  ASSERT_EQ(result.has_oob.size(), 400u);
  std::size_t with_oob = 0, correct = 0;
  for (std::size_t r = 0; r < 400; ++r) {
    const float p0 = result.oob_proba[2 * r], p1 = result.oob_proba[2 * r + 1];
    if (!result.has_oob[r]) {
      EXPECT_EQ(p0 + p1, 0.0f) << "row " << r;
      continue;
    }
    ++with_oob;
    EXPECT_NEAR(p0 + p1, 1.0f, 1e-5f) << "row " << r;
    correct += (p1 > p0 ? 1 : 0) == data.y[r];
  }
  EXPECT_GE(with_oob, 390u);  // each row misses a given bootstrap draw with probability ~0.37
  EXPECT_GE(static_cast<double>(correct) / static_cast<double>(with_oob), 0.9);
}

TEST(ForestTrainerTest, SmokeHtru2HeldOutAuc) {
  const std::string text = testing::slurp(MLS_SHARED_DATA_DIR "/htru2/HTRU_2.csv");
  ASSERT_FALSE(text.empty()) << "missing " MLS_SHARED_DATA_DIR "/htru2/HTRU_2.csv";
  auto table = parse_csv(text, CsvOptions{});
  ASSERT_TRUE(table.ok()) << table.error().message;
  const Matrix& m = table->matrix;
  ASSERT_EQ(m.cols, 9u);
  TabularDataset train, test;
  for (TabularDataset* d : {&train, &test}) {
    d->x.cols = 8;
    d->class_labels = {0, 1};
  }
  for (std::size_t r = 0; r < m.rows; ++r) {  // 80/20 by index: every fifth row is held out
    TabularDataset& d = r % 5 == 4 ? test : train;
    d.x.values.insert(d.x.values.end(), m.row(r), m.row(r) + 8);
    d.y.push_back(m.at(r, 8) > 0.5f ? 1 : 0);
    ++d.x.rows;
  }
  ForestParams params = small_params(20, 42);
  params.n_jobs = 0;
  const ForestTrainResult result = train_ok(train, params);
  const std::vector<float> p = predict(result.forest, test.x);
  const ClassificationScores s = score_classifier(test.y, p, 2);
  EXPECT_GE(s.auc, 0.95);
  EXPECT_GE(s.accuracy, 0.95);
}

}  // namespace
}  // namespace mls
