#include "models/forest/forest.h"

#include <algorithm>
#include <string>

#include "models/forest/compact_predict.h"

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
    : info_(std::move(info)),
      arrays_(std::move(arrays)),
      compact_(detail::build_compact_forest(arrays_, info_.num_features)) {}

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

namespace {

// Walking one tree is a chain of dependent loads. Walking several at once (several rows through one
// tree, or one row through several trees) keeps several loads in flight, which is what hides
// cache misses and mispredicted branches.
constexpr std::size_t kLanes = 8;

// Moves each of the n cursors down until it sits on a leaf; cursor k reads rows[k].
void walk_to_leaves(const ForestNode* nodes, const float* const* rows, std::int32_t* cursor,
                    std::size_t n) {
  bool moving = true;
  while (moving) {
    moving = false;
    for (std::size_t k = 0; k < n; ++k) {
      const ForestNode& node = nodes[cursor[k]];
      if (node.feature == ForestNode::kLeaf) continue;  // predictable: true once per walk
      // Arithmetic, not a branch: which way a row goes is as good as random to the predictor.
      const std::int32_t go_right = rows[k][node.feature] > node.threshold;
      cursor[k] = node.left + go_right * (node.right - node.left);
      moving = true;
    }
  }
}

}  // namespace

void RandomForest::predict_proba(MatrixView x, std::span<float> out) const {
  if (compact_) {
    detail::compact_predict_proba(*compact_, arrays_.leaf_values, num_classes(), x, out);
    return;
  }
  // The generic walk over forest.bin's own arrays, for forests the compact encoding cannot hold.
  const std::size_t k = num_classes();
  const std::size_t trees = num_trees();
  const ForestNode* nodes = arrays_.nodes.data();
  const float* leaves = arrays_.leaf_values.data();
  std::fill(out.begin(), out.end(), 0.0f);
  const float* rows[kLanes];
  std::int32_t cursor[kLanes];
  auto add_leaf = [&](std::size_t r, std::int32_t node) {
    const float* leaf = leaves + static_cast<std::size_t>(nodes[node].left) * k;
    float* acc = out.data() + r * k;
    for (std::size_t c = 0; c < k; ++c)
      acc[c] += leaf[c];
  };
  if (x.rows < kLanes) {
    // Few rows: each row walks kLanes trees at a time.
    for (std::size_t r = 0; r < x.rows; ++r) {
      std::fill(rows, rows + kLanes, x.row(r));
      for (std::size_t t = 0; t < trees; t += kLanes) {
        const std::size_t n = std::min(kLanes, trees - t);
        for (std::size_t j = 0; j < n; ++j)
          cursor[j] = arrays_.tree_starts[t + j];
        walk_to_leaves(nodes, rows, cursor, n);
        for (std::size_t j = 0; j < n; ++j)
          add_leaf(r, cursor[j]);
      }
    }
  } else {
    // Many rows: a block of rows goes through one tree at a time (its nodes stay in cache),
    // kLanes rows abreast.
    for (std::size_t block = 0; block < x.rows; block += kRowBlock) {
      const std::size_t block_end = std::min(x.rows, block + kRowBlock);
      for (std::size_t t = 0; t < trees; ++t) {
        for (std::size_t r = block; r < block_end; r += kLanes) {
          const std::size_t n = std::min(kLanes, block_end - r);
          for (std::size_t j = 0; j < n; ++j) {
            rows[j] = x.row(r + j);
            cursor[j] = arrays_.tree_starts[t];
          }
          walk_to_leaves(nodes, rows, cursor, n);
          for (std::size_t j = 0; j < n; ++j)
            add_leaf(r + j, cursor[j]);
        }
      }
    }
  }
  // Divide once at the end (rather than storing leaf/num_trees) so a unanimous forest gives
  // exactly 1.0.
  const float divisor = static_cast<float>(trees);
  for (float& v : out)
    v /= divisor;
}

}  // namespace mls
