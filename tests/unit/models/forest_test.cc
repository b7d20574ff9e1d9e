#include "models/forest/forest.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "support/hand_forest.h"

namespace mls {
namespace {

using testing::forest_info;
using testing::leaf_node;
using testing::split_node;

RandomForest make_forest(ModelInfo info, ForestArrays arrays) {
  auto forest = RandomForest::create(std::move(info), std::move(arrays));
  if (!forest.ok()) {
    ADD_FAILURE() << forest.error().message;
    std::abort();
  }
  return std::move(forest).value();
}

std::vector<float> predict(const RandomForest& forest, const Matrix& x) {
  std::vector<float> out(x.rows * forest.num_classes(), -1.0f);
  forest.predict_proba(x.view(), out);
  return out;
}

Matrix rows_of(std::size_t cols, std::vector<float> values) {
  Matrix m;
  m.cols = cols;
  m.rows = values.size() / cols;
  m.values = std::move(values);
  return m;
}

// The kDataLoss message create() gives, or a test failure if it accepts the arrays.
std::string create_error(ModelInfo info, ForestArrays arrays) {
  auto forest = RandomForest::create(std::move(info), std::move(arrays));
  if (forest.ok()) {
    ADD_FAILURE() << "create() accepted an invalid forest";
    return {};
  }
  EXPECT_EQ(forest.error().code, ErrorCode::kDataLoss) << forest.error().message;
  return forest.error().message;
}

TEST(ForestTest, StumpPredictsItsLeafDistributions) {
  const RandomForest forest = make_forest(forest_info(2), testing::stump_arrays());
  EXPECT_EQ(forest.num_trees(), 1u);
  EXPECT_EQ(forest.num_nodes(), 3u);
  EXPECT_EQ(forest.num_classes(), 2u);
  EXPECT_EQ(forest.num_features(), 2u);
  EXPECT_EQ(forest.info().model_type, "forest");
  // Threshold equality goes left; the second feature is ignored.
  const Matrix x = rows_of(2, {0.0f, 9.0f, 0.5f, -9.0f, std::nextafter(0.5f, 1.0f), 0.0f, 0.4999f,
                               100.0f, 7.0f, 0.0f, -1e30f, 0.0f});
  EXPECT_EQ(predict(forest, x), (std::vector<float>{0.9f, 0.1f, 0.9f, 0.1f, 0.2f, 0.8f, 0.9f, 0.1f,
                                                    0.2f, 0.8f, 0.9f, 0.1f}));
}

TEST(ForestTest, TwoTreesAddTheirLeaves) {
  const RandomForest forest = make_forest(forest_info(2), testing::two_tree_arrays());
  EXPECT_EQ(forest.num_trees(), 2u);
  const Matrix x = rows_of(2, {0, -2, 1, 0, 3, 0, 0.5f, -1, 2, 5});
  EXPECT_EQ(predict(forest, x),
            (std::vector<float>{0.75f, 0.25f, 0.5f, 0.5f, 0, 1, 0.75f, 0.25f, 0.5f, 0.5f}));
}

TEST(ForestTest, UnanimousForestGivesExactlyOne) {
  // Three identical stumps with pure leaves: the average must be exactly 0 and 1, not 3 * (1/3).
  ForestArrays a;
  for (std::int32_t t = 0; t < 3; ++t) {
    a.tree_starts.push_back(3 * t);
    a.nodes.push_back(split_node(0, 0.0f, 3 * t + 1, 3 * t + 2));
    a.nodes.push_back(leaf_node(0));
    a.nodes.push_back(leaf_node(1));
  }
  a.leaf_values = {1.0f, 0.0f, 0.0f, 1.0f};
  const RandomForest forest = make_forest(forest_info(1), std::move(a));
  EXPECT_EQ(predict(forest, rows_of(1, {-1.0f, 1.0f})), (std::vector<float>{1, 0, 0, 1}));
}

TEST(ForestTest, ThreeClassLeaves) {
  ForestArrays a;
  a.nodes = {split_node(1, 10.0f, 1, 2), leaf_node(1), leaf_node(0)};
  a.tree_starts = {0};
  a.leaf_values = {0.0f, 0.0f, 1.0f, 0.25f, 0.5f, 0.25f};
  const RandomForest forest = make_forest(forest_info(3, {2, 5, 7}), std::move(a));
  EXPECT_EQ(forest.num_classes(), 3u);
  const Matrix x = rows_of(3, {0, 10, 0, 0, 11, 0});
  EXPECT_EQ(predict(forest, x), (std::vector<float>{0.25f, 0.5f, 0.25f, 0, 0, 1}));
}

TEST(ForestTest, BatchEqualsRowByRowAcrossBlocks) {
  const RandomForest forest = make_forest(forest_info(2), testing::two_tree_arrays());
  // 150 rows: several lane groups, with a partial last one (forest_compact_test.cc covers blocks).
  Matrix x;
  x.cols = 2;
  std::uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 8.0f - 4.0f;
  };
  for (int r = 0; r < 150; ++r) {
    x.values.push_back(next());
    x.values.push_back(next());
  }
  x.rows = 150;
  const std::vector<float> batch = predict(forest, x);
  ASSERT_EQ(batch.size(), 300u);
  for (std::size_t r = 0; r < x.rows; ++r) {
    const Matrix one = rows_of(2, {x.at(r, 0), x.at(r, 1)});
    const std::vector<float> single = predict(forest, one);
    EXPECT_EQ(batch[2 * r], single[0]) << "row " << r;
    EXPECT_EQ(batch[2 * r + 1], single[1]) << "row " << r;
    const float p1 = testing::two_tree_p1(x.at(r, 0), x.at(r, 1));
    EXPECT_EQ(batch[2 * r + 1], p1) << "row " << r;
    EXPECT_EQ(batch[2 * r], 1.0f - p1) << "row " << r;
  }
}

TEST(ForestTest, EmptyBatchWritesNothing) {
  const RandomForest forest = make_forest(forest_info(2), testing::stump_arrays());
  Matrix x;
  x.cols = 2;
  std::vector<float> out;
  forest.predict_proba(x.view(), out);
  EXPECT_TRUE(out.empty());
}

TEST(ForestTest, CreateRejectsChildPointingBackwards) {
  ForestArrays self = testing::stump_arrays();
  self.nodes[0].left = 0;  // a node that is its own child: a cycle
  EXPECT_EQ(create_error(forest_info(2), self), "tree 0, node 0: child index out of range");

  ForestArrays back;
  back.nodes = {split_node(0, 0.5f, 1, 2), leaf_node(0), split_node(1, 0.0f, 1, 3), leaf_node(1)};
  back.tree_starts = {0};
  back.leaf_values = {1, 0, 0, 1};
  EXPECT_EQ(create_error(forest_info(2), back), "tree 0, node 2: child index out of range");
}

TEST(ForestTest, CreateRejectsChildOutsideItsTree) {
  ForestArrays escape = testing::two_tree_arrays();
  escape.nodes[0].right = 3;  // tree 1's root
  EXPECT_EQ(create_error(forest_info(2), escape), "tree 0, node 0: child index out of range");

  ForestArrays past_end = testing::two_tree_arrays();
  past_end.nodes[5].right = 8;  // one past the last node
  EXPECT_EQ(create_error(forest_info(2), past_end), "tree 1, node 2: child index out of range");
}

TEST(ForestTest, CreateRejectsFeatureOutOfRange) {
  ForestArrays a = testing::two_tree_arrays();
  a.nodes[5].feature = 2;
  EXPECT_EQ(create_error(forest_info(2), a), "tree 1, node 2: feature index out of range");
  a.nodes[5].feature = -2;
  EXPECT_EQ(create_error(forest_info(2), a), "tree 1, node 2: feature index out of range");
}

TEST(ForestTest, CreateRejectsLeafRowOutOfRange) {
  ForestArrays a = testing::stump_arrays();
  a.nodes[2].left = 2;  // only 2 leaf rows
  EXPECT_EQ(create_error(forest_info(2), a), "tree 0, node 2: leaf row out of range");
  a.nodes[2].left = -1;
  EXPECT_EQ(create_error(forest_info(2), a), "tree 0, node 2: leaf row out of range");
}

TEST(ForestTest, CreateRejectsNaNThreshold) {
  ForestArrays a = testing::stump_arrays();
  a.nodes[0].threshold = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(create_error(forest_info(2), a), "tree 0, node 0: threshold is NaN");
}

TEST(ForestTest, CreateRejectsMissingTrees) {
  ForestArrays none = testing::stump_arrays();
  none.tree_starts.clear();
  EXPECT_EQ(create_error(forest_info(2), none), "a forest needs trees");

  ForestArrays empty_tree = testing::two_tree_arrays();
  empty_tree.tree_starts = {0, 3, 3};  // tree 1 has no nodes
  EXPECT_EQ(create_error(forest_info(2), empty_tree), "tree 1, node 0: tree start 3 out of range");

  ForestArrays late_start = testing::two_tree_arrays();
  late_start.tree_starts = {1, 3};
  EXPECT_EQ(create_error(forest_info(2), late_start),
            "tree 0, node 0: first tree does not start at node 0");
}

TEST(ForestTest, CreateRejectsFewerThanTwoClasses) {
  EXPECT_EQ(create_error(forest_info(2, {1}), testing::stump_arrays()),
            "a forest needs at least 2 classes");
  EXPECT_EQ(create_error(forest_info(2, {}), testing::stump_arrays()),
            "a forest needs at least 2 classes");
}

TEST(ForestTest, CreateRejectsShapeMismatches) {
  EXPECT_EQ(create_error(forest_info(0), testing::stump_arrays()), "a forest needs features");
  ForestArrays a = testing::stump_arrays();
  a.leaf_values.push_back(0.5f);
  EXPECT_EQ(create_error(forest_info(2), a), "leaf values are not a multiple of the class count");
}

}  // namespace
}  // namespace mls
