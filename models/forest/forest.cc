#include "models/forest/forest.h"

#include <algorithm>
#include <string>

namespace mls {
namespace {

// Rows are scored in blocks so a tree's nodes stay in cache while several rows walk it.
constexpr std::size_t kRowBlock = 64;

Error bad_node(std::size_t tree, std::size_t node, const std::string& what) {
  return make_error(ErrorCode::kDataLoss, "tree " + std::to_string(tree) + ", node " +
                                              std::to_string(node) + ": " + what);
}

}  // namespace

RandomForest::RandomForest(ModelInfo info, ForestArrays arrays)
    : info_(std::move(info)), arrays_(std::move(arrays)) {}

Result<RandomForest> RandomForest::create(ModelInfo info, ForestArrays arrays) {
  const std::size_t num_classes = info.class_labels.size();
  if (num_classes < 2) return make_error(ErrorCode::kDataLoss, "a forest needs at least 2 classes");
  if (info.num_features == 0) return make_error(ErrorCode::kDataLoss, "a forest needs features");
  if (arrays.tree_starts.empty()) return make_error(ErrorCode::kDataLoss, "a forest needs trees");
  if (arrays.leaf_values.size() % num_classes != 0) {
    return make_error(ErrorCode::kDataLoss, "leaf values are not a multiple of the class count");
  }
  const auto num_nodes = static_cast<std::int64_t>(arrays.nodes.size());
  const auto num_leaves = static_cast<std::int64_t>(arrays.leaf_values.size() / num_classes);
  for (std::size_t t = 0; t < arrays.tree_starts.size(); ++t) {
    const std::int64_t begin = arrays.tree_starts[t];
    const std::int64_t end =
        t + 1 < arrays.tree_starts.size() ? arrays.tree_starts[t + 1] : num_nodes;
    if (begin < 0 || begin >= end || end > num_nodes) {
      return bad_node(t, 0, "tree start " + std::to_string(begin) + " out of range");
    }
    if (t == 0 && begin != 0) return bad_node(t, 0, "first tree does not start at node 0");
    for (std::int64_t i = begin; i < end; ++i) {
      const ForestNode& n = arrays.nodes[i];
      const std::size_t local = static_cast<std::size_t>(i - begin);
      if (n.feature == ForestNode::kLeaf) {
        if (n.left < 0 || n.left >= num_leaves) return bad_node(t, local, "leaf row out of range");
        continue;
      }
      if (n.feature < 0 || static_cast<std::size_t>(n.feature) >= info.num_features) {
        return bad_node(t, local, "feature index out of range");
      }
      // Children strictly after their parent and inside the tree: no cycles, no escapes.
      if (n.left <= i || n.left >= end || n.right <= i || n.right >= end) {
        return bad_node(t, local, "child index out of range");
      }
      if (!(n.threshold == n.threshold)) return bad_node(t, local, "threshold is NaN");
    }
  }
  return RandomForest(std::move(info), std::move(arrays));
}

std::int32_t RandomForest::leaf_of(std::size_t tree, const float* row) const {
  const ForestNode* nodes = arrays_.nodes.data();
  std::int32_t i = arrays_.tree_starts[tree];
  while (nodes[i].feature != ForestNode::kLeaf) {
    const ForestNode& n = nodes[i];
    i = row[n.feature] <= n.threshold ? n.left : n.right;
  }
  return nodes[i].left;
}

void RandomForest::predict_proba(MatrixView x, std::span<float> out) const {
  const std::size_t num_classes = this->num_classes();
  std::fill(out.begin(), out.end(), 0.0f);
  const float* leaves = arrays_.leaf_values.data();
  for (std::size_t block = 0; block < x.rows; block += kRowBlock) {
    const std::size_t block_end = std::min(x.rows, block + kRowBlock);
    for (std::size_t t = 0; t < num_trees(); ++t) {
      for (std::size_t r = block; r < block_end; ++r) {
        const float* leaf = leaves + static_cast<std::size_t>(leaf_of(t, x.row(r))) * num_classes;
        float* acc = out.data() + r * num_classes;
        for (std::size_t c = 0; c < num_classes; ++c)
          acc[c] += leaf[c];
      }
    }
  }
  // Divide once at the end (rather than storing leaf/num_trees) so a unanimous forest gives
  // exactly 1.0.
  const float trees = static_cast<float>(num_trees());
  for (float& v : out)
    v /= trees;
}

}  // namespace mls
