#pragma once
// predict_proba for large batches: a tree sends the whole block of rows down at once, splitting
// the rows' indices at every node the way a quicksort pass splits an array, instead of walking
// each row from the root. A node then costs one compare per row that reaches it, 16 rows per
// AVX-512 step (8 per AVX2 step), with no cursors to step and no lanes idling on leaves (the
// lockstep walk wastes about a third of its steps). Sums the leaves tree by tree in tree order, as
// the walks do: bit-identical results.
//
// Measured on HTRU2's 100-tree forest (forest_predict_bench, one thread, Zen 4; bench/README.md):
// 1.29 M rows/s at 10 000 rows against 0.70 M for the lockstep walk, 0.92 M at 2 000, 0.76 M vs
// 0.71 M at 1 000, slower below a few hundred. On the Intel Xeon of 2026-12-04 (AVX-512): 1.77 M
// rows/s at 10 000, 1.15 M at 1 000 since small nodes walk their rows in lockstep (0.94 M when they
// walked them one by one). On an AVX2-only Zen 3 (2026-12-05), 8 rows per step: 1.10 M rows/s at
// 10 000 against the walk's 0.54 M, 0.82 M vs 0.55 M at 1 000, ahead from about 256 rows. On a
// Zen 4 EPYC (2026-12-06) the AVX2 split beat the AVX-512 one: 1.57 M against 1.35 M rows/s at
// 10 000 rows, 1.07 M against 0.94 M at 1 000; at 256 rows 0.82 M against 0.76 M, and the walk's
// 0.64 M (see partition_isa). With the vector partial step and paired leaf adds (same Zen 4, later
// that day): 1.71 M rows/s at 10 000, 1.60 M at 5 000, 1.20 M at 1 000, and 0.77 M against the
// walk's 0.63 M at 128 rows (0.70 M vs 0.63 M at 96, 0.63 M vs 0.64 M at 64). On a Sapphire
// Rapids-class Xeon (2026-12-06), AVX-512 with compressing stores and one-row leaf adds: 2.6 M
// rows/s at 10 000 rows (forest_predict_bench), 1.5 M at 1 000, 0.86 M against the walk's 0.81 M at
// 128, and 4-17 % ahead of the AVX2 split from 500 rows up. A scalar split lost to the walk at
// every size, so without AVX2 the path is not offered. With AVX2, the top of each tree (nodes
// holding a quarter of the block's rows or more) splits bitmaps of the block's rows by comparing
// whole columns, no gathers: on Zen 3 (2026-12-07) 1.26 -> 1.48 M rows/s at 4 400 rows and 1.37 ->
// 1.57 M at 10 000, level at 1 000 and below.

#include <span>
#include <vector>

#include "models/core/matrix.h"
#include "models/forest/compact_forest.h"

namespace mls::detail {

// Rows per pass over the trees; bigger batches are split into blocks of this many.
inline constexpr std::size_t kPartitionBlockRows = 16384;

// The instructions a node's split uses: 16 rows per step with AVX-512 (F and DQ: compress, masked
// stores, 64-bit gathers), 8 with AVX2 (a permutation per step in place of compress).
enum class SplitIsa { kNone, kAvx2, kAvx512 };

// Whether this CPU runs that split (checked once).
bool partition_supports(SplitIsa isa);

// Batches from this many rows take the partition path (measured crossovers against the lockstep
// walk, see above). AVX2: from the Zen 4 figures above (ahead by 22 % at 128, 10 % at 96, level at
// 64). AVX-512 on the Sapphire Rapids-class Xeon of 2026-12-06, with the compressing stores and
// one-row leaf adds: 1.07x the walk at 128 rows, 1.21x at 256, 1.49x at 512, 1.87x at 999, 0.94x at
// 64 (it started at 1 000 before them).
inline constexpr std::size_t kPartitionFromRows = 128;

// Blocks from this many rows are reordered after the first tree: rows grouped by the leaf they
// reached there. Rows that share a leaf of one tree tend to travel together through the others
// too, so a node's rows sit closer together and its gathered feature values share cache lines
// (forcing every such load into L1 measured 1.17x at 5 000 rows). The reorder costs a second
// transpose and moving the running sums in and out. Zen 4, paired rounds against the same code
// without it (2026-12-06): +3.6 % rows/s at 1 000 rows, +6 % at 2 000, +9.5 % at 3 000, +4.3 % at
// 5 000, +11 % at 10 000; around 500 rows it breaks even.
inline constexpr std::size_t kSortFromRows = 1000;

// The split that runs fastest on this CPU (chosen once); kNone when it runs neither. AVX-512 on
// Intel CPUs; AVX2 on the others, even with AVX-512: on Zen 4, which splits its 512-bit
// instructions in two and whose gathers are slow, the AVX2 split (scalar loads, no gather)
// measured ahead at every batch size from 128 to 14 000 rows, by 1-29 % (17 % at 10 000;
// bench/README.md), while on an Emerald Rapids Xeon AVX-512 was ahead (0.78 against 0.71 M rows/s
// at 5 000 rows).
SplitIsa partition_isa();

// Adds every tree's leaf distribution for each row of x to out (rows * num_classes; not cleared,
// not divided by the tree count), splitting with `isa`, which this CPU must support
// (partition_supports); kNone adds nothing.
void partition_add_leaves(const CompactForest& forest, const std::vector<float>& leaf_values,
                          std::size_t num_classes, MatrixView x, std::span<float> out,
                          SplitIsa isa = partition_isa());

}  // namespace mls::detail
