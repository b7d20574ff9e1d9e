// The packed layout prediction walks (compact_forest.h) against the naive walk of forest.bin's own
// arrays: bit-identical probabilities on random forests and rows that sit on thresholds, across
// every batch shape the kernel treats differently.

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "models/forest/compact_forest.h"
#include "models/forest/forest.h"
#include "models/forest/partition_predict.h"
#include "support/hand_forest.h"
#include "support/random_forest.h"

namespace mls {
namespace {

using detail::kLanes;
using testing::forest_info;
using testing::RandomForestShape;

RandomForest make_forest(ModelInfo info, ForestArrays arrays) {
  auto forest = RandomForest::create(std::move(info), std::move(arrays));
  if (!forest.ok()) {
    ADD_FAILURE() << forest.error().message;
    std::abort();
  }
  return std::move(forest).value();
}

ModelInfo info_for(const RandomForestShape& shape) {
  std::vector<double> labels;
  for (std::size_t c = 0; c < shape.classes; ++c)
    labels.push_back(static_cast<double>(c));
  return forest_info(shape.features, labels);
}

// Bit for bit: the same float sums in the same order, not merely close.
void expect_bit_identical(const std::vector<float>& got, const std::vector<float>& want,
                          const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(want[i]))
        << where << ", value " << i << ": " << got[i] << " vs " << want[i];
  }
}

std::vector<float> predict(const RandomForest& forest, MatrixView x) {
  std::vector<float> out(x.rows * forest.num_classes(), -1.0f);
  forest.predict_proba(x, out);
  return out;
}

// Every row count the kernels split differently: one row (trees abreast), fewer rows than lanes,
// exact and partial lane groups (a quarter, a half, all lanes walked), more than one block of rows,
// and the partition path (on CPUs with AVX2 or AVX-512) from its first batch size, with a partial
// last step, with its rows reordered after the first tree (from kSortFromRows), and over two
// blocks.
using detail::kPartitionBlockRows;
using detail::kPartitionFromRows;
const std::size_t kBatchSizes[] = {1,
                                   2,
                                   kLanes - 1,
                                   kLanes,
                                   kLanes + 1,
                                   kLanes + kLanes / 2,
                                   2 * kLanes + kLanes / 4 + 1,
                                   100,
                                   511,
                                   512,
                                   513,
                                   1300,
                                   kPartitionFromRows - 1,
                                   kPartitionFromRows,
                                   kPartitionFromRows + 3,
                                   detail::kSortFromRows - 1,
                                   detail::kSortFromRows,
                                   detail::kSortFromRows + 9,
                                   kPartitionBlockRows + 17};
const std::size_t kMostRows = kPartitionBlockRows + 17;

void expect_matches_naive(const RandomForestShape& shape, std::uint64_t seed) {
  const ForestArrays arrays = testing::random_forest_arrays(shape, seed);
  const RandomForest forest = make_forest(info_for(shape), arrays);
  EXPECT_TRUE(forest.uses_compact_layout());
  const Matrix all = testing::edge_rows(kMostRows, shape.features, seed + 1);
  for (std::size_t n : kBatchSizes) {
    const MatrixView x{all.values.data(), n, all.cols};
    expect_bit_identical(predict(forest, x), testing::naive_predict(arrays, shape.classes, x),
                         "seed " + std::to_string(seed) + ", " + std::to_string(n) + " rows");
  }
}

TEST(ForestCompactTest, DeepTwoClassForestsMatchTheNaiveWalk) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed)
    expect_matches_naive({.trees = 40, .features = 8, .classes = 2, .max_depth = 16}, seed);
}

// A short last group of trees walks a quarter, a half or all of the lanes: each width, and its
// edges.
TEST(ForestCompactTest, TreeCountsThatDoNotFillTheLanes) {
  for (std::size_t trees : {std::size_t{1}, kLanes / 4, kLanes / 4 + 1, kLanes / 2, kLanes / 2 + 1,
                            kLanes - 1, kLanes, kLanes + 1, 2 * kLanes + 3, 6 * kLanes + 4})
    expect_matches_naive({.trees = trees, .features = 3, .classes = 2, .max_depth = 8}, trees);
}

TEST(ForestCompactTest, ThreeAndFiveClasses) {
  expect_matches_naive({.trees = 25, .features = 6, .classes = 3, .max_depth = 10}, 7);
  expect_matches_naive({.trees = 9, .features = 2, .classes = 5, .max_depth = 6}, 8);
}

TEST(ForestCompactTest, OneFeatureAndStumpsAndLoneLeaves) {
  expect_matches_naive({.trees = 20, .features = 1, .classes = 2, .max_depth = 1}, 11);
  // leaf_chance 1: every tree below the root is a stump; max_depth 0: every tree is one leaf.
  expect_matches_naive({.trees = 20, .features = 4, .classes = 2, .max_depth = 5, .leaf_chance = 1},
                       12);
  expect_matches_naive({.trees = 20, .features = 4, .classes = 2, .max_depth = 0}, 13);
}

// NaN goes left (x > t is false), infinities go where their sign says, in every kernel.
TEST(ForestCompactTest, NonFiniteValuesGoWhereTheNaiveWalkSendsThem) {
  const RandomForestShape shape{.trees = 30, .features = 5, .classes = 2, .max_depth = 12};
  const ForestArrays arrays = testing::random_forest_arrays(shape, 41);
  const RandomForest forest = make_forest(info_for(shape), arrays);
  Matrix all = testing::edge_rows(kMostRows, shape.features, 42);
  const float specials[] = {NAN, -NAN, INFINITY, -INFINITY};
  for (std::size_t i = 0; i < all.values.size(); i += 3)
    all.values[i] = specials[(i / 3) % 4];
  for (std::size_t n : {std::size_t{1}, std::size_t{100}, kPartitionFromRows + 5, kMostRows}) {
    const MatrixView x{all.values.data(), n, all.cols};
    expect_bit_identical(predict(forest, x), testing::naive_predict(arrays, shape.classes, x),
                         std::to_string(n) + " rows with NaN and infinities");
  }
}

// Each split this CPU runs, called directly (the dispatch picks only the widest): every partial
// step length of both widths, rows that sit on thresholds, NaN and infinities, two blocks.
TEST(ForestCompactTest, EverySplitThisCpuRunsMatchesTheNaiveWalk) {
  const RandomForestShape shape{.trees = 12, .features = 6, .classes = 2, .max_depth = 14};
  const ForestArrays arrays = testing::random_forest_arrays(shape, 51);
  const auto compact = detail::build_compact_forest(arrays, shape.features);
  ASSERT_TRUE(compact.has_value());
  Matrix all = testing::edge_rows(kMostRows, shape.features, 52);
  const float specials[] = {NAN, INFINITY, -INFINITY};
  for (std::size_t i = 0; i < all.values.size(); i += 7)
    all.values[i] = specials[(i / 7) % 3];
  std::size_t runs = 0;
  for (const detail::SplitIsa isa : {detail::SplitIsa::kAvx2, detail::SplitIsa::kAvx512}) {
    if (!detail::partition_supports(isa)) continue;
    ++runs;
    for (std::size_t n :
         {std::size_t{16}, std::size_t{17}, std::size_t{23}, std::size_t{24}, std::size_t{31},
          std::size_t{257}, std::size_t{1000}, detail::kSortFromRows + 9, kMostRows}) {
      const MatrixView x{all.values.data(), n, all.cols};
      std::vector<float> got(n * shape.classes, 0.0f);
      detail::partition_add_leaves(*compact, arrays.leaf_values, shape.classes, x, got, isa);
      for (float& v : got)
        v /= static_cast<float>(shape.trees);
      expect_bit_identical(
          got, testing::naive_predict(arrays, shape.classes, x),
          "split " + std::to_string(static_cast<int>(isa)) + ", " + std::to_string(n) + " rows");
    }
  }
  if (runs == 0) GTEST_SKIP() << "this CPU has neither AVX2 nor AVX-512";
}

// A comb: every inner node sends the rows at or below its threshold to a leaf and the rest on to
// the next inner node, the thresholds rising by 1 % of the rows a level. Each node below the root
// still holds over half of the rows, so the bitmap top of the AVX2 partition path splits it until
// its depth limit and then goes on as index lists; 4 000 rows: two 64-row words past a multiple of
// 64 (the padded reads) and dense words (the 8-lane expansion). Two trees: the rows are reordered
// after the first (kSortFromRows).
ForestArrays comb_arrays(std::size_t levels) {
  ForestArrays a;
  for (std::size_t tree = 0; tree < 2; ++tree) {
    a.tree_starts.push_back(static_cast<std::int32_t>(a.nodes.size()));
    for (std::size_t i = 0; i < levels; ++i) {
      const auto at = static_cast<std::int32_t>(a.nodes.size());
      a.nodes.push_back({static_cast<float>(i + 1) / 100.0f + 0.0001f * static_cast<float>(tree), 0,
                         at + 1, at + 2});
      a.nodes.push_back(
          {0, ForestNode::kLeaf, static_cast<std::int32_t>(a.leaf_values.size() / 2), 0});
      const float p = static_cast<float>(i) / static_cast<float>(levels);
      a.leaf_values.insert(a.leaf_values.end(), {p, 1.0f - p});
    }
    a.nodes.push_back(
        {0, ForestNode::kLeaf, static_cast<std::int32_t>(a.leaf_values.size() / 2), 0});
    a.leaf_values.insert(a.leaf_values.end(), {0.25f, 0.75f});
  }
  return a;
}

TEST(ForestCompactTest, CombDeeperThanTheBitmapTopMatchesTheNaiveWalk) {
  const ForestArrays arrays = comb_arrays(40);
  const RandomForest forest = make_forest(forest_info(2), comb_arrays(40));
  ASSERT_TRUE(forest.uses_compact_layout());
  for (std::size_t rows : {std::size_t{4000}, kPartitionFromRows, std::size_t{640}}) {
    Matrix x;
    x.cols = 2;
    x.rows = rows;
    for (std::size_t r = 0; r < rows; ++r) {
      // Shuffled (7 is coprime to every count here), so a node's rows are not one run of words.
      x.values.push_back(static_cast<float>((r * 7) % rows) / static_cast<float>(rows));
      x.values.push_back(0.0f);
    }
    expect_bit_identical(predict(forest, x.view()), testing::naive_predict(arrays, 2, x.view()),
                         "comb, " + std::to_string(rows) + " rows");
  }
}

TEST(ForestCompactTest, HandForestsAgreeOnThresholdEquality) {
  const RandomForest stump = make_forest(forest_info(2), testing::stump_arrays());
  const RandomForest two = make_forest(forest_info(2), testing::two_tree_arrays());
  EXPECT_TRUE(stump.uses_compact_layout());
  EXPECT_TRUE(two.uses_compact_layout());
  Matrix x;
  x.cols = 2;
  for (float a : {0.5f, 2.0f, -1.0f, 0.0f, -0.0f, std::nextafter(0.5f, 1.0f), -1e30f, 1e30f}) {
    for (float b : {-1.0f, std::nextafter(-1.0f, 0.0f), 3.0f}) {
      x.values.push_back(a);
      x.values.push_back(b);
    }
  }
  x.rows = x.values.size() / 2;
  expect_bit_identical(predict(stump, x.view()),
                       testing::naive_predict(testing::stump_arrays(), 2, x.view()), "stump");
  expect_bit_identical(predict(two, x.view()),
                       testing::naive_predict(testing::two_tree_arrays(), 2, x.view()), "two");
  for (std::size_t r = 0; r < x.rows; ++r) {
    EXPECT_EQ(predict(two, {x.row(r), 1, 2})[1], testing::two_tree_p1(x.at(r, 0), x.at(r, 1)));
  }
}

TEST(ForestCompactTest, LayoutPutsChildrenSideBySideAndLeavesOnThemselves) {
  const ForestArrays arrays = testing::two_tree_arrays();
  const auto compact = detail::build_compact_forest(arrays, 2);
  ASSERT_TRUE(compact.has_value());
  EXPECT_EQ(compact->roots, (std::vector<std::uint32_t>{0, 3}));
  ASSERT_EQ(compact->nodes.size(), arrays.nodes.size());
  ASSERT_EQ(compact->slot.size(), arrays.nodes.size());
  std::size_t leaves = 0;
  for (std::uint32_t i = 0; i < compact->nodes.size(); ++i) {
    const detail::CompactNode& n = compact->nodes[i];
    if (detail::is_compact_leaf(n)) {
      ++leaves;
      EXPECT_EQ(n.child, i) << "a leaf points to itself";
      EXPECT_TRUE(std::isnan(n.threshold));
      EXPECT_LT(detail::compact_leaf_row(n), arrays.leaf_values.size() / 2);
      EXPECT_EQ(compact->slot[i], 0);
    } else {
      EXPECT_GT(n.child, i) << "children after their parent";
      EXPECT_EQ(compact->slot[i] % kLanes, 0u);
    }
  }
  EXPECT_EQ(leaves, 5u);
  // Tree 1: x1 <= -1 ? leaf 2 : (x0 <= 2 ? leaf 3 : leaf 4).
  const detail::CompactNode& root = compact->nodes[3];
  EXPECT_EQ(root.threshold, -1.0f);
  EXPECT_EQ(compact->slot[3], 1 * kLanes);
  EXPECT_EQ(detail::compact_leaf_row(compact->nodes[root.child]), 2u);
  const detail::CompactNode& right = compact->nodes[root.child + 1];
  EXPECT_EQ(right.threshold, 2.0f);
  EXPECT_EQ(detail::compact_leaf_row(compact->nodes[right.child]), 3u);
  EXPECT_EQ(detail::compact_leaf_row(compact->nodes[right.child + 1]), 4u);
}

TEST(ForestCompactTest, SharedChildFallsBackToTheGenericWalk) {
  // Both children of the root are the same leaf: valid for create(), but not a tree to pack.
  ForestArrays a;
  a.nodes = {testing::split_node(0, 0.5f, 1, 1), testing::leaf_node(0)};
  a.tree_starts = {0};
  a.leaf_values = {0.25f, 0.75f};
  const RandomForest forest = make_forest(forest_info(1), a);
  EXPECT_FALSE(forest.uses_compact_layout());
  const Matrix x = [] {
    Matrix m;
    m.cols = 1;
    m.values = {0.0f, 1.0f};
    m.rows = 2;
    return m;
  }();
  EXPECT_EQ(predict(forest, x.view()), (std::vector<float>{0.25f, 0.75f, 0.25f, 0.75f}));
}

TEST(ForestCompactTest, TooManyFeaturesForTheSlotFallsBack) {
  const RandomForestShape shape{.trees = 5, .features = 5000, .classes = 2, .max_depth = 6};
  const ForestArrays arrays = testing::random_forest_arrays(shape, 21);
  const RandomForest forest = make_forest(info_for(shape), arrays);
  EXPECT_FALSE(forest.uses_compact_layout());
  const Matrix x = testing::edge_rows(40, shape.features, 22);
  expect_bit_identical(predict(forest, x.view()), testing::naive_predict(arrays, 2, x.view()),
                       "generic walk");
}

TEST(ForestCompactTest, ThreadsSharingOneForestGetTheSameAnswers) {
  const RandomForestShape shape{.trees = 30, .features = 8, .classes = 2, .max_depth = 14};
  const ForestArrays arrays = testing::random_forest_arrays(shape, 31);
  const RandomForest forest = make_forest(info_for(shape), arrays);
  const Matrix x = testing::edge_rows(detail::kSortFromRows + 300, shape.features, 32);
  const std::vector<float> want = testing::naive_predict(arrays, 2, x.view());
  std::vector<std::vector<float>> got(4);
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 0; t < got.size(); ++t) {
      threads.emplace_back([&, t] {
        // Alternate batch and single-row calls so the per-thread scratch changes size.
        for (int round = 0; round < 5; ++round) {
          got[t] = predict(forest, x.view());
          predict(forest, {x.row(round), 1, x.cols});
        }
      });
    }
  }
  for (const auto& g : got)
    expect_bit_identical(g, want, "thread");
}

}  // namespace
}  // namespace mls
