#pragma once
// Random forests in the v1 arrays (ForestArrays), rows that land on their thresholds, and the
// naive per-row, per-tree walk every optimised layout must agree with bit for bit.

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "models/core/matrix.h"
#include "models/core/random.h"
#include "models/forest/forest_arrays.h"

namespace mls::testing {

struct RandomForestShape {
  std::size_t trees = 20;
  std::size_t features = 5;
  std::size_t classes = 2;
  int max_depth = 12;
  float leaf_chance = 0.15f;  // per node below the root, before max_depth forces a leaf
};

// Trees in depth-first order, left child first (as the trainer writes them). Thresholds are drawn
// from a small grid so that different nodes share values and rows can hit them exactly. Leaf
// distributions are arbitrary floats summing to about 1, so a wrong summation order would show.
class RandomForestBuilder {
 public:
  RandomForestBuilder(const RandomForestShape& shape, std::uint64_t seed)
      : shape_(shape), rng_(seed) {}

  ForestArrays build() {
    for (std::size_t t = 0; t < shape_.trees; ++t) {
      a_.tree_starts.push_back(static_cast<std::int32_t>(a_.nodes.size()));
      grow(0);
    }
    return std::move(a_);
  }

 private:
  std::int32_t grow(int depth) {
    const auto at = static_cast<std::int32_t>(a_.nodes.size());
    a_.nodes.emplace_back();
    if (depth >= shape_.max_depth || (depth > 0 && rng_.uniform01() < shape_.leaf_chance)) {
      a_.nodes[at].left = static_cast<std::int32_t>(a_.leaf_values.size() / shape_.classes);
      float left = 1.0f;
      for (std::size_t c = 0; c + 1 < shape_.classes; ++c) {
        const float p = left * rng_.uniform01();
        a_.leaf_values.push_back(p);
        left -= p;
      }
      a_.leaf_values.push_back(left);
      return at;
    }
    ForestNode n;
    n.feature = static_cast<std::int32_t>(rng_.below(shape_.features));
    n.threshold = static_cast<float>(static_cast<int>(rng_.below(41)) - 20) * 0.25f;
    n.left = grow(depth + 1);
    n.right = grow(depth + 1);
    a_.nodes[at] = n;
    return at;
  }

  RandomForestShape shape_;
  SplitMix64 rng_;
  ForestArrays a_;
};

inline ForestArrays random_forest_arrays(const RandomForestShape& shape, std::uint64_t seed) {
  return RandomForestBuilder(shape, seed).build();
}

// Rows on the threshold grid (so many values equal a threshold exactly), one float either side of
// it, and far outside it; all finite, as the model's callers guarantee.
inline Matrix edge_rows(std::size_t rows, std::size_t features, std::uint64_t seed) {
  SplitMix64 rng(seed);
  Matrix x;
  x.rows = rows;
  x.cols = features;
  for (std::size_t i = 0; i < rows * features; ++i) {
    const float grid = static_cast<float>(static_cast<int>(rng.below(45)) - 22) * 0.25f;
    switch (rng.below(6)) {
      case 0:
        x.values.push_back(std::nextafter(grid, -INFINITY));
        break;
      case 1:
        x.values.push_back(std::nextafter(grid, INFINITY));
        break;
      case 2:
        x.values.push_back(rng.uniform_symmetric(1e30f));
        break;
      case 3:
        x.values.push_back(rng.uniform_symmetric(6.0f));
        break;
      default:
        x.values.push_back(grid);  // exactly on a threshold (or -0.0 vs 0.0 when grid is 0)
    }
  }
  return x;
}

// One row at a time, one tree at a time, `x > threshold` goes right (so equality and NaN go
// left), leaf distributions summed in tree order, then divided by the tree count.
inline std::vector<float> naive_predict(const ForestArrays& a, std::size_t classes, MatrixView x) {
  std::vector<float> out(x.rows * classes, 0.0f);
  for (std::size_t r = 0; r < x.rows; ++r) {
    const float* row = x.row(r);
    for (std::int32_t start : a.tree_starts) {
      std::int32_t i = start;
      while (a.nodes[i].feature != ForestNode::kLeaf)
        i = row[a.nodes[i].feature] > a.nodes[i].threshold ? a.nodes[i].right : a.nodes[i].left;
      for (std::size_t c = 0; c < classes; ++c)
        out[r * classes + c] += a.leaf_values[a.nodes[i].left * classes + c];
    }
  }
  for (float& v : out)
    v /= static_cast<float>(a.tree_starts.size());
  return out;
}

}  // namespace mls::testing
