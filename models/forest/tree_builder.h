#pragma once
// Grows one CART tree on a weighted sample. Internal to the forest trainer.

#include <cstdint>
#include <vector>

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

// A small, fast, well-mixed generator with a fully specified output (unlike std distributions).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound).
  std::uint64_t below(std::uint64_t bound) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

 private:
  std::uint64_t state_;
};

// sample_weight[i] == 0 leaves row i out of the tree.
LocalTree grow_tree(const ColumnData& data, const std::vector<double>& sample_weight,
                    const ForestParams& params, SplitMix64& rng);

}  // namespace mls::detail
