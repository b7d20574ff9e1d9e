#pragma once
// predict_proba for large batches: a tree sends the whole block of rows down at once, splitting
// the rows' indices at every node the way a quicksort pass splits an array, instead of walking
// each row from the root. A node then costs one compare per row that reaches it, 16 rows per
// AVX-512 step, with no cursors to step and no lanes idling on leaves (the lockstep walk wastes
// about a third of its steps). Sums the leaves tree by tree in tree order, as the walks do:
// bit-identical results.
//
// Measured on HTRU2's 100-tree forest (forest_predict_bench, one thread, Zen 4; bench/README.md):
// 1.29 M rows/s at 10 000 rows against 0.70 M for the lockstep walk, 0.92 M at 2 000, 0.76 M vs
// 0.71 M at 1 000, slower below a few hundred. On the Intel Xeon of 2026-12-04 (AVX-512): 1.77 M
// rows/s at 10 000, 1.15 M at 1 000 since small nodes walk their rows in lockstep (0.94 M when they
// walked them one by one). Without AVX-512 the split is scalar and lost to the walk at every size,
// so the path is not offered there.

#include <span>
#include <vector>

#include "models/core/matrix.h"
#include "models/forest/compact_forest.h"

namespace mls::detail {

// Batches from this many rows take the partition path (where partition_available()).
inline constexpr std::size_t kPartitionFromRows = 1000;
// Rows per pass over the trees; bigger batches are split into blocks of this many.
inline constexpr std::size_t kPartitionBlockRows = 16384;

// True when this CPU has AVX-512F and DQ (checked once).
bool partition_available();

// Adds every tree's leaf distribution for each row of x to out (rows * num_classes; not cleared,
// not divided by the tree count). Only where partition_available().
void partition_add_leaves(const CompactForest& forest, const std::vector<float>& leaf_values,
                          std::size_t num_classes, MatrixView x, std::span<float> out);

}  // namespace mls::detail
