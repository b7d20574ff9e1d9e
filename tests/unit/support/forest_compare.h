#pragma once
// Field-by-field comparison of forest arrays (ForestNode has no operator==).

#include <gtest/gtest.h>

#include "models/forest/forest.h"

namespace mls::testing {

inline void expect_same_arrays(const ForestArrays& a, const ForestArrays& b) {
  EXPECT_EQ(a.tree_starts, b.tree_starts);
  EXPECT_EQ(a.leaf_values, b.leaf_values);
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    EXPECT_EQ(a.nodes[i].feature, b.nodes[i].feature) << "node " << i;
    EXPECT_EQ(a.nodes[i].threshold, b.nodes[i].threshold) << "node " << i;
    EXPECT_EQ(a.nodes[i].left, b.nodes[i].left) << "node " << i;
    if (a.nodes[i].feature != ForestNode::kLeaf) {
      EXPECT_EQ(a.nodes[i].right, b.nodes[i].right) << "node " << i;
    }
  }
}

// True when the two forests differ anywhere (structure, thresholds or leaf values).
inline bool arrays_differ(const ForestArrays& a, const ForestArrays& b) {
  if (a.tree_starts != b.tree_starts || a.leaf_values != b.leaf_values) return true;
  if (a.nodes.size() != b.nodes.size()) return true;
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    const ForestNode &x = a.nodes[i], &y = b.nodes[i];
    if (x.feature != y.feature || x.threshold != y.threshold || x.left != y.left) return true;
    if (x.feature != ForestNode::kLeaf && x.right != y.right) return true;
  }
  return false;
}

}  // namespace mls::testing
