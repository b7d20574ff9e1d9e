#include "models/forest/compact_forest.h"

#include <bit>
#include <cstdint>
#include <utility>

namespace mls::detail {

namespace {

// Copies one tree, starting at arrays' node `root`, to the end of `out`. Explicit stack: an
// unbounded tree depth must not overflow the call stack.
bool pack_tree(const ForestArrays& arrays, std::int32_t root, std::vector<char>& seen,
               CompactForest& out) {
  auto add_slot = [&out] {
    out.nodes.push_back({});
    out.slot.push_back(0);
  };
  if (out.nodes.size() >= UINT32_MAX - 1) return false;
  // (source node, its slot in out)
  std::vector<std::pair<std::int32_t, std::size_t>> todo = {{root, out.nodes.size()}};
  add_slot();
  while (!todo.empty()) {
    const auto [src, at] = todo.back();
    todo.pop_back();
    if (seen[static_cast<std::size_t>(src)]) return false;  // two parents: not a tree
    seen[static_cast<std::size_t>(src)] = 1;
    const ForestNode& n = arrays.nodes[static_cast<std::size_t>(src)];
    if (n.feature == ForestNode::kLeaf) {
      if (static_cast<std::uint64_t>(n.left) >= kMaxLeafRows) return false;
      out.nodes[at] = {std::bit_cast<float>(kLeafNaN | static_cast<std::uint32_t>(n.left)),
                       static_cast<std::uint32_t>(at)};
      continue;
    }
    const std::size_t pair = out.nodes.size();
    if (pair + 2 >= UINT32_MAX) return false;
    add_slot();
    add_slot();
    out.nodes[at] = {n.threshold, static_cast<std::uint32_t>(pair)};
    out.slot[at] = static_cast<std::uint16_t>(static_cast<std::size_t>(n.feature) * kLanes);
    // Right first so the left child is popped, and its pair placed, next: the all-left path of a
    // subtree lies in consecutive pairs.
    todo.emplace_back(n.right, pair + 1);
    todo.emplace_back(n.left, pair);
  }
  return true;
}

}  // namespace

std::optional<CompactForest> build_compact_forest(const ForestArrays& arrays,
                                                  std::size_t num_features) {
  if ((num_features - 1) * kLanes > UINT16_MAX) return std::nullopt;
  CompactForest f;
  f.nodes.reserve(arrays.nodes.size());
  f.slot.reserve(arrays.nodes.size());
  std::vector<char> seen(arrays.nodes.size(), 0);
  for (std::int32_t start : arrays.tree_starts) {
    f.roots.push_back(static_cast<std::uint32_t>(f.nodes.size()));
    if (!pack_tree(arrays, start, seen, f)) return std::nullopt;
  }
  for (std::size_t i = 0; i < f.nodes.size(); ++i) {
    if (is_compact_leaf(f.nodes[i])) {
      f.parking_leaf = static_cast<std::uint32_t>(i);
      break;
    }
  }
  return f;
}

}  // namespace mls::detail
