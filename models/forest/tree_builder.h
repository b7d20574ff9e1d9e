#pragma once
// Grows one CART tree on a weighted sample. Internal to the forest trainer.

#include <cstdint>
#include <vector>

#include "models/core/random.h"
#include "models/forest/forest.h"
#include "models/forest/forest_params.h"

namespace mls::detail {

// The training data, column-major for cache-friendly split search.
struct ColumnData {
  std::vector<float> columns;  // [num_features, n]
  std::vector<int> y;          // [n]
  std::size_t n = 0;
  std::size_t num_features = 0;
  std::size_t num_classes = 0;
  const float* column(std::size_t f) const { return columns.data() + f * n; }
};

// A tree with tree-local indices: children index `nodes`, leaves index rows of `leaf_values`.
struct LocalTree {
  std::vector<ForestNode> nodes;
  std::vector<float> leaf_values;  // [num_leaves, num_classes], each row sums to 1
};

using ::mls::SplitMix64;

// sample_weight[i] == 0 leaves row i out of the tree.
LocalTree grow_tree(const ColumnData& data, const std::vector<double>& sample_weight,
                    const ForestParams& params, SplitMix64& rng);

}  // namespace mls::detail
