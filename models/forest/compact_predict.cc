#include "models/forest/compact_predict.h"

#include <algorithm>
#include <array>

#include "models/forest/partition_predict.h"

#ifdef __FAST_MATH__
#error "the walk relies on IEEE NaN comparisons: a leaf's x > NaN must stay false"
#endif

namespace mls::detail {
namespace {

// Rows scored per pass over the trees. A tree's visited nodes stay in L1 while the block's rows
// walk it; the block's lane-interleaved copy (kRowBlock * features floats) stays there too.
constexpr std::size_t kRowBlock = 512;

using Cursors = std::array<std::uint32_t, kLanes>;

// Steps all kLanes walks until each sits on a leaf. xi is lane-interleaved: feature f of lane k
// at xi[f * kLanes + k]. Leaves point to themselves, so a finished walk idles without a branch;
// the loop ends when a whole step moved no cursor (inner nodes always move: children come after
// their parent). Two steps per check halve the bookkeeping for at most one wasted step.
// kWalks < kLanes steps only the first kWalks cursors (see walk_lanes).
template <std::size_t kWalks = kLanes>
inline void walk(const CompactForest& f, const float* xi, Cursors& cur) {
  const CompactNode* nodes = f.nodes.data();
  const std::uint16_t* slot = f.slot.data();
  // Fields read one by one (not the whole 8-byte node) so the threshold can feed the compare
  // straight from memory.
  auto step = [&](std::size_t k, std::uint32_t c) {
    return nodes[c].child + (xi[slot[c] + k] > nodes[c].threshold);
  };
  for (;;) {
    for (std::size_t k = 0; k < kWalks; ++k)
      cur[k] = step(k, cur[k]);
    std::uint32_t moved = 0;
    for (std::size_t k = 0; k < kWalks; ++k) {
      const std::uint32_t next = step(k, cur[k]);
      moved |= next ^ cur[k];
      cur[k] = next;
    }
    if (moved == 0) return;
  }
}

// Walks the first n cursors. A short group (100 trees: 6 x 16 + 4; a batch's last rows) steps
// only the lanes it fills, to the nearest quarter: a parked lane costs as much per step as a
// walking one. Single-row predict 3.85 -> 3.49 us (forest_predict_bench, 4 alternating runs).
void walk_lanes(const CompactForest& f, const float* xi, Cursors& cur, std::size_t n) {
  if (n <= kLanes / 4)
    walk<kLanes / 4>(f, xi, cur);
  else if (n <= kLanes / 2)
    walk<kLanes / 2>(f, xi, cur);
  else
    walk(f, xi, cur);
}

void add_leaf(const CompactForest& f, const float* leaf_values, std::size_t k, std::uint32_t node,
              float* acc) {
  const float* leaf = leaf_values + static_cast<std::size_t>(compact_leaf_row(f.nodes[node])) * k;
  for (std::size_t c = 0; c < k; ++c)
    acc[c] += leaf[c];
}

// One row, kLanes trees abreast: every lane reads the same row, copied into each lane's slot.
void predict_one_row(const CompactForest& f, const float* leaf_values, std::size_t k,
                     const float* row, std::size_t cols, float* xi, float* acc) {
  for (std::size_t c = 0; c < cols; ++c)
    std::fill_n(xi + c * kLanes, kLanes, row[c]);
  const std::size_t trees = f.roots.size();
  Cursors cur;
  for (std::size_t t = 0; t < trees; t += kLanes) {
    const std::size_t n = std::min(kLanes, trees - t);
    for (std::size_t j = 0; j < kLanes; ++j)
      cur[j] = j < n ? f.roots[t + j] : f.parking_leaf;
    walk_lanes(f, xi, cur, n);
    for (std::size_t j = 0; j < n; ++j)  // tree order: the same float sums as before
      add_leaf(f, leaf_values, k, cur[j], acc);
  }
}

// A block of rows: lanes are rows, trees go one at a time over the whole block.
void predict_block(const CompactForest& f, const float* leaf_values, std::size_t k, MatrixView x,
                   std::size_t begin, std::size_t end, float* xi, float* out) {
  const std::size_t cols = x.cols;
  const std::size_t groups = (end - begin + kLanes - 1) / kLanes;
  // Interleave once per block; a short last group repeats its first row in the spare lanes.
  for (std::size_t g = 0; g < groups; ++g) {
    float* dst = xi + g * cols * kLanes;
    for (std::size_t j = 0; j < kLanes; ++j) {
      const std::size_t r =
          begin + g * kLanes + j < end ? begin + g * kLanes + j : begin + g * kLanes;
      const float* src = x.row(r);
      for (std::size_t c = 0; c < cols; ++c)
        dst[c * kLanes + j] = src[c];
    }
  }
  Cursors cur;
  for (const std::uint32_t root : f.roots) {
    for (std::size_t g = 0; g < groups; ++g) {
      cur.fill(root);
      const std::size_t first = begin + g * kLanes;
      const std::size_t n = std::min(kLanes, end - first);
      walk_lanes(f, xi + g * cols * kLanes, cur, n);
      for (std::size_t j = 0; j < n; ++j)
        add_leaf(f, leaf_values, k, cur[j], out + (first + j) * k);
    }
  }
}

}  // namespace

void compact_predict_proba(const CompactForest& forest, const std::vector<float>& leaf_values,
                           std::size_t num_classes, MatrixView x, std::span<float> out) {
  const std::size_t k = num_classes;
  // Per-thread scratch, grown once and reused: the model is shared by every server thread.
  thread_local std::vector<float> xi;
  // Whole lane groups: a short last group still fills every lane.
  const std::size_t rows = std::min(x.rows, kRowBlock);
  const std::size_t need = std::max<std::size_t>(1, (rows + kLanes - 1) / kLanes) * kLanes * x.cols;
  if (xi.size() < need) xi.resize(need);
  std::fill(out.begin(), out.end(), 0.0f);
  if (x.rows < kLanes) {
    for (std::size_t r = 0; r < x.rows; ++r)
      predict_one_row(forest, leaf_values.data(), k, x.row(r), x.cols, xi.data(),
                      out.data() + r * k);
  } else if (const SplitIsa isa = partition_isa();
             isa != SplitIsa::kNone && x.rows >= kPartitionFromRows) {
    partition_add_leaves(forest, leaf_values, k, x, out, isa);
  } else {
    for (std::size_t b = 0; b < x.rows; b += kRowBlock)
      predict_block(forest, leaf_values.data(), k, x, b, std::min(x.rows, b + kRowBlock), xi.data(),
                    out.data());
  }
  // Divide once at the end (rather than storing leaf/num_trees) so a unanimous forest gives
  // exactly 1.0.
  const float divisor = static_cast<float>(forest.roots.size());
  for (float& v : out)
    v /= divisor;
}

}  // namespace mls::detail
