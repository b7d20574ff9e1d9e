#pragma once
// Small forests built by hand, with their predictions worked out on paper.

#include <string>
#include <utility>
#include <vector>

#include "models/core/model.h"
#include "models/forest/forest.h"

namespace mls::testing {

inline ForestNode split_node(std::int32_t feature, float threshold, std::int32_t left,
                             std::int32_t right) {
  return ForestNode{threshold, feature, left, right};
}

inline ForestNode leaf_node(std::int32_t leaf_row) {
  return ForestNode{0.0f, ForestNode::kLeaf, leaf_row, 0};
}

inline ModelInfo forest_info(std::size_t num_features, std::vector<double> labels = {0, 1}) {
  ModelInfo info;
  info.model_type = "forest";
  info.num_features = num_features;
  for (double label : labels)
    info.class_names.push_back(std::to_string(static_cast<int>(label)));
  info.class_labels = std::move(labels);
  return info;
}

// One stump: x0 <= 0.5 goes to [0.9, 0.1], else [0.2, 0.8].
inline ForestArrays stump_arrays() {
  ForestArrays a;
  a.nodes = {split_node(0, 0.5f, 1, 2), leaf_node(0), leaf_node(1)};
  a.tree_starts = {0};
  a.leaf_values = {0.9f, 0.1f, 0.2f, 0.8f};
  return a;
}

// Two trees over 2 features; the forest averages their leaf distributions:
//   tree 0: x0 <= 0.5 ? [1, 0] : [0, 1]
//   tree 1: x1 <= -1 ? [0.5, 0.5] : (x0 <= 2 ? [1, 0] : [0, 1])
inline ForestArrays two_tree_arrays() {
  ForestArrays a;
  a.nodes = {split_node(0, 0.5f, 1, 2),
             leaf_node(0),
             leaf_node(1),  // tree 0
             split_node(1, -1.0f, 4, 5),
             leaf_node(2),
             split_node(0, 2.0f, 6, 7),
             leaf_node(3),  // tree 1
             leaf_node(4)};
  a.tree_starts = {0, 3};
  a.leaf_values = {1.0f, 0.0f, 0.0f, 1.0f, 0.5f, 0.5f, 1.0f, 0.0f, 0.0f, 1.0f};
  return a;
}

// P(class 1) of two_tree_arrays() for a row, written out independently of the forest code.
inline float two_tree_p1(float x0, float x1) {
  float p = x0 <= 0.5f ? 0.0f : 1.0f;
  if (x1 <= -1.0f)
    p += 0.5f;
  else
    p += x0 <= 2.0f ? 0.0f : 1.0f;
  return p / 2.0f;
}

}  // namespace mls::testing
