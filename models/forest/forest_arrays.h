#pragma once
// forest.bin's layout in memory: every tree's nodes in one flat array, in depth-first order, with
// leaf class distributions in a second array (struct of arrays). Training writes it, forest_io
// stores it; prediction walks a packed copy (compact_forest.h).

#include <cstdint>
#include <vector>

namespace mls {

// 16 bytes. An inner node sends x[feature] <= threshold left. A leaf has feature == kLeaf and
// keeps the row of its class distribution in leaf_values in `left`.
struct ForestNode {
  static constexpr std::int32_t kLeaf = -1;
  float threshold = 0;
  std::int32_t feature = kLeaf;
  std::int32_t left = 0;
  std::int32_t right = 0;
};

struct ForestArrays {
  std::vector<ForestNode> nodes;          // all trees, concatenated
  std::vector<std::int32_t> tree_starts;  // index of each tree's root in nodes
  std::vector<float> leaf_values;         // [num_leaves, num_classes], each row a distribution
};

}  // namespace mls
