#pragma once
// The layout prediction walks: forest.bin's arrays (ForestArrays) re-packed at load time into
// 8-byte nodes, so the whole HTRU2 forest (61 k nodes) is half the bytes and a tree's hot top
// levels share fewer cache lines. Nothing here is stored on disk.
//
// Node encoding (why each choice):
// - The two children of a node are adjacent, so a node stores one child index and the walk is
//   `next = child + (x > threshold)`: no branch, no select.
// - A leaf points to itself and carries a NaN threshold, so `x > NaN` is false and a walk that
//   reached a leaf stays there. Several walks can then be stepped in lockstep with no per-walk
//   "am I done" branch (the one mispredicted branch per walk that dominated before).
// - The NaN's payload bits hold the leaf's row in leaf_values: the leaf costs no extra load.
// - The feature sits in a parallel uint16 array, pre-multiplied by kLanes because the kernel reads
//   rows from a lane-interleaved copy (feature f of lane k at f * kLanes + k). A separate load
//   measured cheaper than unpacking a word shared with the child (shift, mask, a register each);
//   three separate arrays (no 8-byte node) measured slower again.

#include <bit>
#include <cstdint>
#include <optional>
#include <vector>

#include "models/forest/forest_arrays.h"

namespace mls::detail {

// Walks stepped together: rows of a batch through one tree, or one row through several trees.
inline constexpr std::size_t kLanes = 16;

struct CompactNode {
  float threshold;      // inner: the split; leaf: a quiet NaN whose low 22 bits are the leaf row
  std::uint32_t child;  // inner: the left child (right = child + 1); leaf: itself
};
static_assert(sizeof(CompactNode) == 8);

struct CompactForest {
  std::vector<CompactNode> nodes;   // every tree, each in depth-first order of child pairs
  std::vector<std::uint16_t> slot;  // per node: feature * kLanes (0 for leaves)
  std::vector<std::uint32_t> roots;
  std::uint32_t parking_leaf = 0;  // any leaf: where unused lanes wait
};

inline constexpr std::uint32_t kLeafNaN = 0x7FC00000u;   // quiet NaN, payload 0
inline constexpr std::uint32_t kMaxLeafRows = 1u << 22;  // the payload bits of a quiet NaN

inline bool is_compact_leaf(const CompactNode& n) {
  return (std::bit_cast<std::uint32_t>(n.threshold) & ~(kMaxLeafRows - 1)) == kLeafNaN;
}

inline std::uint32_t compact_leaf_row(const CompactNode& n) {
  return std::bit_cast<std::uint32_t>(n.threshold) & (kMaxLeafRows - 1);
}

// Re-packs validated arrays (RandomForest::create has checked every index). Empty when the forest
// does not fit the encoding: features * kLanes above 65535, more than kMaxLeafRows leaves, or a
// node shared by two parents (a DAG the old layout allows); the caller then keeps the generic walk.
std::optional<CompactForest> build_compact_forest(const ForestArrays& arrays,
                                                  std::size_t num_features);

}  // namespace mls::detail
