#pragma once
// A fitted random forest laid out for inference: every tree's nodes in one flat array, in
// depth-first order, with leaf class distributions in a second array (struct of arrays).

#include <cstdint>
#include <span>
#include <vector>

#include "models/core/model.h"
#include "models/core/status.h"

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

class RandomForest final : public Model {
 public:
  // Checks every index (children after their parent and inside their tree, features and leaf rows
  // in range), so prediction never has to. Errors: kDataLoss naming the first bad node.
  static Result<RandomForest> create(ModelInfo info, ForestArrays arrays);

  const ModelInfo& info() const override { return info_; }
  const ForestArrays& arrays() const { return arrays_; }
  std::size_t num_trees() const { return arrays_.tree_starts.size(); }
  std::size_t num_nodes() const { return arrays_.nodes.size(); }

  void predict_proba(MatrixView x, std::span<float> out) const override;

 private:
  RandomForest(ModelInfo info, ForestArrays arrays);

  ModelInfo info_;
  ForestArrays arrays_;
};

}  // namespace mls
