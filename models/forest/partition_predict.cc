#include "models/forest/partition_predict.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <numeric>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#ifdef __FAST_MATH__
#error "leaves carry a NaN threshold and NaN features must go left: x > t must follow IEEE"
#endif

namespace mls::detail {

#if defined(__x86_64__)

namespace {

// A node reached by fewer rows than this walks them to their leaves (walk_group): a split costs a
// stack entry and a partial 16-row step, which a handful of rows does not repay. 12 to 20 measured
// alike (within noise) on the Intel box of 2026-12-04; 16 fills one AVX-512 step. With AVX2's
// 8-row steps, 8 measured fastest on Zen 3 (1.15 M rows/s at 10 000 rows against 1.10 M for 16 and
// 1.14 M for 24; alike at 1 000).
constexpr std::uint32_t kMaxWalkBelow = 16;
constexpr std::uint32_t walk_below(SplitIsa isa) {
  return isa == SplitIsa::kAvx2 ? 8 : kMaxWalkBelow;
}

using Index = std::uint32_t;  // a row of the block: 32 bits, what the gather takes

#define MLS_AVX512 __attribute__((target("avx512f,avx512dq,avx2,popcnt"))) inline

// Packs one 16-row step's rows to their sides with two compressing stores. Only Intel CPUs take
// this split (partition_isa; Zen 4 microcodes compress-to-memory), and on the Sapphire Rapids-class
// Xeon of 2026-12-06 the stores beat compressing in a register and storing under a mask by 1-6 %
// rows/s at 1 000 to 10 000 rows (paired kernel rounds).
MLS_AVX512 void place16(__m512i rows, __mmask16 live, __mmask16 go_right, Index* out,
                        std::uint32_t& left, std::uint32_t& right) {
  const auto go_left = static_cast<__mmask16>(live & ~go_right);
  _mm512_mask_compressstoreu_epi32(out + left, go_left, rows);
  right -= static_cast<std::uint32_t>(__builtin_popcount(go_right));
  _mm512_mask_compressstoreu_epi32(out + right, go_right, rows);
  left += static_cast<std::uint32_t>(__builtin_popcount(go_left));
}

// Rows src[begin, end) whose x is not above the threshold go to out[begin, left), the others to
// out[left, end); returns left. The compare is ordered, so a NaN x goes left, as `x > t` sends it
// in the walks. kAllRows: src is 0, 1, ... (the root's rows), so x is read straight, not gathered.
template <bool kAllRows>
MLS_AVX512 std::uint32_t split(const float* x, float threshold, const Index* src,
                               std::uint32_t begin, std::uint32_t end, Index* out) {
  const __m512 t = _mm512_set1_ps(threshold);
  std::uint32_t left = begin;
  std::uint32_t right = end;
  std::uint32_t i = begin;
  // Compares first, placing after, in chunks: a gather issued behind stores whose addresses are
  // still unknown (they wait on the previous compare) does not start early, so interleaving the
  // two serialises every step on the gather's latency.
  constexpr std::uint32_t kChunk = 16 * 16;
  __mmask16 go_right[kChunk / 16];
  while (i + 16 <= end) {
    const std::uint32_t steps = std::min<std::uint32_t>(kChunk, end - i) / 16;
    for (std::uint32_t s = 0; s < steps; ++s) {
      __m512 v;
      if constexpr (kAllRows) {
        v = _mm512_loadu_ps(x + i + 16 * s);
      } else {
        // Two 8-wide gathers: faster on Zen 4 than one 16-wide (1.26 vs 1.22 M rows/s).
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 16 * s));
        const __m256i hi =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 16 * s + 8));
        v = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_i32gather_ps(x, lo, 4)),
                               _mm256_i32gather_ps(x, hi, 4), 1);
      }
      go_right[s] = _mm512_cmp_ps_mask(v, t, _CMP_GT_OQ);
    }
    for (std::uint32_t s = 0; s < steps; ++s)
      place16(_mm512_loadu_si512(src + i + 16 * s), 0xFFFF, go_right[s], out, left, right);
    i += 16 * steps;
  }
  if (i < end) {
    const auto live = static_cast<__mmask16>((1u << (end - i)) - 1);
    const __m512i rows = _mm512_maskz_loadu_epi32(live, src + i);
    const __m512 v = kAllRows ? _mm512_maskz_loadu_ps(live, x + i)
                              : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, rows, x, 4);
    place16(rows, live, _mm512_mask_cmp_ps_mask(live, v, t, _CMP_GT_OQ), out, left, right);
  }
  return left;
}

#define MLS_AVX2 __attribute__((target("avx2,popcnt"))) inline

// For each 8-bit "goes right" mask, the lanes of an 8-row step in the order they are stored: the
// rows going left first, then those going right (each side in lane order). Stored at out + left,
// the first popcount(~mask) lanes are the left rows; stored again so that it ends at out + right,
// the last popcount(mask) lanes are the right rows. One permutation serves both sides (AVX2 has no
// compress instruction).
struct SplitOrder {
  std::uint8_t lanes[256][8];
};

constexpr SplitOrder make_split_order() {
  SplitOrder order{};
  for (unsigned mask = 0; mask < 256; ++mask) {
    unsigned n = 0;
    for (unsigned side = 0; side < 2; ++side) {
      for (unsigned lane = 0; lane < 8; ++lane) {
        if (((mask >> lane) & 1u) == side) order.lanes[mask][n++] = static_cast<std::uint8_t>(lane);
      }
    }
  }
  return order;
}

alignas(64) constexpr SplitOrder kSplitOrder = make_split_order();

// Whether each of eight rows src[at, at + 8) goes right at threshold t: bit j for row j. Eight
// loads and inserts, not a gather: Zen 3 runs them faster (1.10 M rows/s against 0.87 M at 10 000
// rows, forest_predict_bench), Zen 4 too (1.64 M against 1.34 M at 5 000); a scalar compare per row
// building the mask was slower still (0.76 M on Zen 3). The indices are read one by one on
// purpose: two per 64-bit load measured 20 % slower (the parent's 32-byte stores that wrote them
// cannot forward to a load that spans two of them). No form reading the root's rows straight: on
// AVX2 the root always splits on bitmaps (visit_bitmap).
MLS_AVX2 unsigned goes_right8(const float* x, const Index* src, std::size_t at, __m256 t) {
  const Index* r = src + at;
  const __m256 v =
      _mm256_setr_ps(x[r[0]], x[r[1]], x[r[2]], x[r[3]], x[r[4]], x[r[5]], x[r[6]], x[r[7]]);
  return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, t, _CMP_GT_OQ)));
}

// Places the live rows of src[0, 8) (bit j of live: row j is placed) at out[left, ...) and
// out[..., right) by go_right (live bits only), with the two stores described at split_avx2.
// The counters are 64-bit (no zero-extension before every store's address) and the left count is
// the live count less the right one (a constant less one popcount in the full steps): 52 -> 45
// instructions per 8 rows, +1-5 % rows/s at 1 000 to 10 000 rows (Zen 4, 2026-12-06, five
// alternating runs).
MLS_AVX2 void place8(const Index* src, unsigned go_right, unsigned live, Index* out,
                     std::size_t& left, std::size_t& right) {
  const __m256i order = _mm256_cvtepu8_epi32(
      _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kSplitOrder.lanes[go_right])));
  const __m256i rows =
      _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), order);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + right - 8), rows);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + left), rows);
  const auto to_right = static_cast<std::size_t>(__builtin_popcount(go_right));
  right -= to_right;
  left += static_cast<std::size_t>(__builtin_popcount(live)) - to_right;
}

// The AVX2 form of split<> above (same contract). Rows are placed eight at a time with two
// unmasked 8-lane stores, one starting at `left`, one ending at `right`, each correct on its
// own side and writing the other side's rows into the unplaced gap between. That is safe while
// the gap holds at least 16 rows, and also at exactly 8 (both stores then write the same lanes to
// the same places). So the partial step goes first, leaving the gap a multiple of 8: a vector
// step too, whose lanes past the partial count are masked out of both sides (they sort to the
// middle of the order, where both stores leave them in the gap). Nodes of fewer than 8 rows never
// split here (walk_below). A scalar loop for the partial step, its trip count different at every
// node, measured 3-4 % slower at 1 000 and 5 000 rows (Zen 4, 2026-12-06).
MLS_AVX2 std::uint32_t split_avx2(const float* x, float threshold, const Index* src,
                                  std::uint32_t begin, std::uint32_t end, Index* out) {
  std::size_t left = begin;
  std::size_t right = end;
  const __m256 t = _mm256_set1_ps(threshold);
  const std::uint32_t partial = (end - begin) % 8;  // 0: a step with no live lane
  const unsigned live = (1u << partial) - 1;
  place8(src + begin, goes_right8(x, src, begin, t) & live, live, out, left, right);
  // Compares first, placing after, as in split<>: a load must not wait behind the stores.
  constexpr std::size_t kChunk = 8 * 32;
  std::uint8_t go_right[kChunk / 8];
  for (std::size_t i = begin + partial; i < end;) {
    const std::size_t steps = std::min<std::size_t>(kChunk, end - i) / 8;
    for (std::size_t s = 0; s < steps; ++s)
      go_right[s] = static_cast<std::uint8_t>(goes_right8(x, src, i + 8 * s, t));
    for (std::size_t s = 0; s < steps; ++s)
      place8(src + i + 8 * s, go_right[s], 0xFF, out, left, right);
    i += 8 * steps;
  }
  return static_cast<std::uint32_t>(left);
}

// The top of a tree on bitmaps. While a node holds at least a quarter of the block's rows
// (kBitmapShare), its rows are a bitmap over the block, not a list of indices: the split compares
// the whole column, contiguous and 32 rows per movemask, and ANDs the result into the node's
// bitmap; no row index is loaded and nothing is gathered. Below that share, the node's bitmap is
// expanded into an ascending index list and the node splits as before. Per row-level the bitmap
// split costs about a tenth of the gathered one but runs over every row of the block, hence the
// share (paired kernel rounds on Zen 3, 2026-12-07, quarter against an eighth and a half: best
// from 2 000 rows up, level at 1 000). The ascending lists also give the gathers below better
// locality than the split's left-then-reversed-right order.
constexpr std::uint32_t kBitmapShare = 4;
// Bitmap levels below the root before a node is expanded whatever its share: bounds the scratch
// (kBitmapLevels * 2 bitmaps of the block) and the recursion. A chain of splits that each peel off
// a few rows is the only way to get this deep while holding a quarter of the rows.
constexpr std::uint32_t kBitmapLevels = 16;

constexpr std::size_t bitmap_words(std::size_t rows) {
  return (rows + 63) / 64;
}

// All ones in lane j where x[j] > t. Ordered compare: NaN gives 0 (goes left), as in the splits.
MLS_AVX2 __m256i above8(const float* x, __m256 t) {
  return _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(x), t, _CMP_GT_OQ));
}

// Bit j: x[j] > t, for j in [0, 32).
MLS_AVX2 std::uint32_t above32(const float* x, __m256 t) {
  // packs work within each 128-bit half, so the bytes come out as row groups 0, 2, 4, 6 | 1, 3,
  // 5, 7 (of four rows each); one dword permutation restores row order.
  const __m256i low = _mm256_packs_epi32(above8(x, t), above8(x + 8, t));
  const __m256i high = _mm256_packs_epi32(above8(x + 16, t), above8(x + 24, t));
  const __m256i bytes = _mm256_packs_epi16(low, high);
  const __m256i ordered =
      _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(ordered));
}

// left = rows & (x <= t), right = rows & (x > t), word by word over the block; returns the left
// count. Reads x in whole words of 64 rows, so up to 63 floats past the column's last row (the
// caller pads the columns); the bits past the block's rows are zero in `rows`.
MLS_AVX2 std::uint32_t split_bitmap(const float* x, float threshold, const std::uint64_t* rows,
                                    std::size_t words, std::uint64_t* left, std::uint64_t* right) {
  const __m256 t = _mm256_set1_ps(threshold);
  std::uint32_t count = 0;
  for (std::size_t w = 0; w < words; ++w) {
    const std::uint64_t in = rows[w];
    if (in == 0) {  // common below the top levels once the rows are sorted (kSortFromRows)
      left[w] = 0;
      right[w] = 0;
      continue;
    }
    const float* at = x + 64 * w;
    const std::uint64_t above =
        above32(at, t) | (static_cast<std::uint64_t>(above32(at + 32, t)) << 32);
    left[w] = in & ~above;
    right[w] = in & above;
    count += static_cast<std::uint32_t>(__builtin_popcountll(left[w]));
  }
  return count;
}

// Writes the rows of the bitmap in ascending order to out. May write up to 7 entries past the
// last row (the caller leaves room): each byte of a word expands as one 8-lane store. No
// one-row-per-set-bit path for sparse words: its loop exits and the choice between the two were
// mispredicted often enough that bytes alone measured 1.01-1.04x the pass at 1 000 to 8 800 rows
// (Zen 3, 2026-12-07, paired kernel rounds).
MLS_AVX2 void expand_bitmap(const std::uint64_t* rows, std::size_t words, Index* out) {
  std::size_t n = 0;
  for (std::size_t w = 0; w < words; ++w) {
    const std::uint64_t bits = rows[w];
    if (bits == 0) continue;
    for (std::size_t byte = 0; byte < 8; ++byte) {
      const unsigned set = static_cast<unsigned>(bits >> (8 * byte)) & 0xFFu;
      // kSplitOrder lists a mask's clear lanes first: the complement's lists the set ones.
      const __m256i lanes = _mm256_cvtepu8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kSplitOrder.lanes[~set & 0xFFu])));
      const auto first = static_cast<int>(64 * w + 8 * byte);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + n),
                          _mm256_add_epi32(lanes, _mm256_set1_epi32(first)));
      n += static_cast<std::size_t>(__builtin_popcount(set));
    }
  }
}

// Two classes' floats as one 64-bit move (the low half of a register): one load and one store
// per leaf add instead of two each. Together with reading the leaf once per leaf (TreePass::visit)
// this measured 7-10 % faster at 1 000 to 10 000 rows (Zen 4, 2026-12-06).
inline __m128 load_pair(const float* p) {
  double d;
  std::memcpy(&d, p, sizeof d);
  return _mm_castpd_ps(_mm_set_sd(d));
}

inline void store_pair(float* p, __m128 v) {
  const double d = _mm_cvtsd_f64(_mm_castps_pd(v));
  std::memcpy(p, &d, sizeof d);
}

struct Pending {
  std::uint32_t node;
  std::uint32_t begin;
  std::uint32_t end;
  std::uint32_t buffer;  // which of the two index buffers holds this node's rows
};

struct Block {
  const float* columns;  // feature f of block row r at columns[f * rows + r]
  std::size_t rows;
  const Index* all;  // 0, 1, ..., rows - 1: the root's rows
  Index* buffers[2];
  float* out;  // the output of the block's first row
  // Not null: every row reaching a leaf or a walked group is also written here, at its position,
  // so that afterwards this lists the rows grouped by the leaf they reached, leaves in tree order.
  Index* leaf_order = nullptr;
  // Not null: the top of each tree splits on bitmaps (kBitmapShare), with this scratch of
  // (kBitmapLevels + 1) * 2 bitmaps of the block. Its columns then carry 64 floats of padding.
  std::uint64_t* bitmaps = nullptr;
};

// kClasses: the class count when known at compile time (two: a fixed-length add the compiler
// unrolls, the common case), 0 for any count (k). kIsa: which split the nodes use.
template <std::size_t kClasses, SplitIsa kIsa>
class TreePass {
 public:
  TreePass(const CompactForest& f, const float* leaf_values, std::size_t k)
      : nodes_(f.nodes.data()),
        slot_(f.slot.data()),
        leaf_values_(leaf_values),
        k_(kClasses != 0 ? kClasses : k) {}

  void run(const Block& b, std::uint32_t root, std::vector<Pending>& stack) const {
    stack.clear();
    if (b.bitmaps != nullptr) {
      std::uint64_t* all = b.bitmaps;
      const std::size_t words = bitmap_words(b.rows);
      std::fill_n(all, words, ~std::uint64_t{0});
      if (b.rows % 64 != 0) all[words - 1] = (std::uint64_t{1} << (b.rows % 64)) - 1;
      return visit_bitmap(b, root, all, 0, static_cast<std::uint32_t>(b.rows), 0, stack);
    }
    visit(b, root, b.all, 0, static_cast<std::uint32_t>(b.rows), 0, stack);
    drain(b, stack);
  }

 private:
  void drain(const Block& b, std::vector<Pending>& stack) const {
    while (!stack.empty()) {
      const Pending p = stack.back();
      stack.pop_back();
      visit(b, p.node, b.buffers[p.buffer], p.begin, p.end, p.buffer ^ 1u, stack);
    }
  }

  // The rows in `rows` (a bitmap over the block, begin..end their places in the index buffers)
  // have reached `node`, `depth` bitmap levels below the root. A node with at least a quarter of
  // the block's rows splits its bitmap into the two at depth + 1 of the scratch, left subtree
  // first (it uses only the levels below, so the right bitmap survives it); any other node, and a
  // leaf, goes on as a list: its rows expanded into buffers[0][begin, end), visited and drained.
  void visit_bitmap(const Block& b, std::uint32_t node, const std::uint64_t* rows,
                    std::uint32_t begin, std::uint32_t end, std::uint32_t depth,
                    std::vector<Pending>& stack) const {
    if (begin == end) return;
    const CompactNode n = nodes_[node];
    const std::size_t words = bitmap_words(b.rows);
    if (n.child == node || (end - begin) * std::size_t{kBitmapShare} < b.rows ||
        depth == kBitmapLevels) {
      expand_bitmap(rows, words, b.buffers[0] + begin);
      visit(b, node, b.buffers[0], begin, end, 1, stack);
      return drain(b, stack);
    }
    std::uint64_t* left = b.bitmaps + (depth + 1) * 2 * words;
    std::uint64_t* right = left + words;
    const std::uint32_t count =
        split_bitmap(column(b, node), n.threshold, rows, words, left, right);
    visit_bitmap(b, n.child, left, begin, begin + count, depth + 1, stack);
    visit_bitmap(b, n.child + 1, right, begin + count, end, depth + 1, stack);
  }

  const float* column(const Block& b, std::uint32_t node) const {
    return b.columns + static_cast<std::size_t>(slot_[node] / kLanes) * b.rows;
  }

  const float* leaf_of(const CompactNode& n) const {
    return leaf_values_ + static_cast<std::size_t>(compact_leaf_row(n)) * k_;
  }

  void add_leaf(const Block& b, std::uint32_t node, Index row) const {
    const float* leaf = leaf_of(nodes_[node]);
    float* acc = b.out + static_cast<std::size_t>(row) * k_;
    if constexpr (kClasses == 2) {
      store_pair(acc, _mm_add_ps(load_pair(acc), load_pair(leaf)));
    } else if constexpr (kClasses != 0) {
      for (std::size_t c = 0; c < kClasses; ++c)
        acc[c] += leaf[c];
    } else {
      for (std::size_t c = 0; c < k_; ++c)
        acc[c] += leaf[c];
    }
  }

  // Rows src[begin, end) have reached `node`. A leaf or a small group is finished here; an inner
  // node splits its rows into b.buffers[dst][begin, end) and queues both children. That range of
  // the other buffer is free: the parent has read it, and siblings' ranges never overlap.
  void visit(const Block& b, std::uint32_t node, const Index* src, std::uint32_t begin,
             std::uint32_t end, std::uint32_t dst, std::vector<Pending>& stack) const {
    const CompactNode n = nodes_[node];
    if (b.leaf_order != nullptr && (n.child == node || end - begin < walk_below(kIsa)))
      std::copy(src + begin, src + end, b.leaf_order + begin);
    if (n.child == node) {
      std::uint32_t i = begin;
      if constexpr (kClasses == 2) {
        // The leaf's pair read once: a float store into out could alias it for all the compiler
        // knows, so add_leaf's loop would read it again for every row. One row at a time, also
        // with AVX-512: gathering eight rows' pairs and scattering them back measured 12-13 %
        // slower at 1 000 to 10 000 rows on the Xeon of 2026-12-06.
        const __m128 leaf = load_pair(leaf_of(n));
        for (; i < end; ++i) {
          float* acc = b.out + static_cast<std::size_t>(src[i]) * 2;
          store_pair(acc, _mm_add_ps(load_pair(acc), leaf));
        }
      }
      for (; i < end; ++i)
        add_leaf(b, node, src[i]);
      return;
    }
    if (end - begin < walk_below(kIsa)) return walk_group(b, node, src + begin, end - begin);
    const float* x = column(b, node);
    if (b.leaf_order == nullptr && nodes_[n.child].child == n.child &&
        nodes_[n.child + 1].child == n.child + 1) {
      return add_either_leaf(b, n, x, src, begin, end);
    }
    Index* out = b.buffers[dst];
    std::uint32_t left;
    if constexpr (kIsa == SplitIsa::kAvx512) {
      left = src == b.all ? split<true>(x, n.threshold, src, begin, end, out)
                          : split<false>(x, n.threshold, src, begin, end, out);
    } else {
      left = split_avx2(x, n.threshold, src, begin, end, out);
    }
    // A leaf child is finished at once rather than queued.
    auto next = [&](std::uint32_t child, std::uint32_t from, std::uint32_t to) {
      if (from == to) return;
      if (nodes_[child].child == child) return visit(b, child, out, from, to, dst, stack);
      stack.push_back({child, from, to, dst});
    };
    next(n.child + 1, left, end);
    next(n.child, begin, left);
  }

  // Both children of n are leaves: each row adds the one its compare picks, with no split and no
  // visit of the leaves (a split would place every row only for the leaves to read them back).
  // Paired kernel rounds on Zen 4 (2026-12-07, forest_predict_bench, 5 000 rows): +2.5 % rows/s.
  // Not on a block's first tree when it is sorted, whose leaves note their rows (leaf_order).
  void add_either_leaf(const Block& b, const CompactNode& n, const float* x, const Index* src,
                       std::uint32_t begin, std::uint32_t end) const {
    const CompactNode& left = nodes_[n.child];
    const CompactNode& right = nodes_[n.child + 1];
    if constexpr (kClasses == 2) {
      const __m128 pairs[2] = {load_pair(leaf_of(left)), load_pair(leaf_of(right))};
      for (std::uint32_t i = begin; i < end; ++i) {
        const Index row = src[i];
        float* acc = b.out + static_cast<std::size_t>(row) * 2;
        store_pair(acc, _mm_add_ps(load_pair(acc), pairs[x[row] > n.threshold]));
      }
    } else {
      const float* leaves[2] = {leaf_of(left), leaf_of(right)};
      for (std::uint32_t i = begin; i < end; ++i) {
        const Index row = src[i];
        const float* leaf = leaves[x[row] > n.threshold];
        float* acc = b.out + static_cast<std::size_t>(row) * k_;
        for (std::size_t c = 0; c < k_; ++c)
          acc[c] += leaf[c];
      }
    }
  }

  // The few rows of a small node walk to their leaves in lockstep, two steps per look at whether
  // any moved (a leaf points to itself): walking them one by one ended every row's walk with a
  // mispredicted loop exit.
  void walk_group(const Block& b, std::uint32_t node, const Index* rows, std::uint32_t n) const {
    std::array<std::uint32_t, kMaxWalkBelow> cur;
    std::fill_n(cur.begin(), n, node);
    auto step = [&](std::uint32_t j) {
      const CompactNode& at = nodes_[cur[j]];
      return at.child + (column(b, cur[j])[rows[j]] > at.threshold);
    };
    for (;;) {
      for (std::uint32_t j = 0; j < n; ++j)
        cur[j] = step(j);
      std::uint32_t moved = 0;
      for (std::uint32_t j = 0; j < n; ++j) {
        const std::uint32_t next = step(j);
        moved |= next ^ cur[j];
        cur[j] = next;
      }
      if (moved == 0) break;
    }
    for (std::uint32_t j = 0; j < n; ++j)
      add_leaf(b, cur[j], rows[j]);
  }

  const CompactNode* nodes_;
  const std::uint16_t* slot_;
  const float* leaf_values_;
  std::size_t k_;
};

}  // namespace

bool partition_supports(SplitIsa isa) {
  static const bool has_avx512 = __builtin_cpu_supports("avx512f") &&
                                 __builtin_cpu_supports("avx512dq") &&
                                 __builtin_cpu_supports("avx2");
  static const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
  switch (isa) {
    case SplitIsa::kAvx512:
      return has_avx512;
    case SplitIsa::kAvx2:
      return has_avx2;
    case SplitIsa::kNone:
      break;
  }
  return false;
}

SplitIsa partition_isa() {
  static const SplitIsa isa = [] {
    if (partition_supports(SplitIsa::kAvx512) && __builtin_cpu_is("intel"))
      return SplitIsa::kAvx512;
    if (partition_supports(SplitIsa::kAvx2)) return SplitIsa::kAvx2;
    return SplitIsa::kNone;
  }();
  return isa;
}

namespace {

template <std::size_t kClasses, SplitIsa kIsa>
void add_leaves(const CompactForest& forest, const std::vector<float>& leaf_values,
                std::size_t num_classes, MatrixView x, std::span<float> out) {
  // Per-thread scratch, grown once and reused: the model is shared by every server thread.
  thread_local std::vector<float> columns;
  thread_local std::vector<Index> indices;
  thread_local std::vector<Index> order;
  thread_local std::vector<float> sorted_out;
  thread_local std::vector<Pending> stack;
  const std::size_t k = num_classes;
  const std::size_t block_rows = std::min(x.rows, kPartitionBlockRows);
  thread_local std::vector<std::uint64_t> bitmaps;
  // The AVX2 split runs the tops of the trees on bitmaps (kBitmapShare). The AVX-512 split (Intel)
  // does not yet: not measured there.
  constexpr bool kBitmapTop = kIsa == SplitIsa::kAvx2;
  // Padding: the bitmap split reads whole words of 64 rows past a column's end; expand_bitmap
  // writes up to 7 indices past a list's end.
  const std::size_t padding = kBitmapTop ? 64 : 0;
  if (columns.size() < block_rows * x.cols + padding) columns.resize(block_rows * x.cols + padding);
  if (indices.size() < 3 * block_rows + 8) indices.resize(3 * block_rows + 8);
  if (kBitmapTop && bitmaps.size() < (kBitmapLevels + 1) * 2 * bitmap_words(block_rows))
    bitmaps.resize((kBitmapLevels + 1) * 2 * bitmap_words(block_rows));
  Index* all = indices.data();
  std::iota(all, all + block_rows, Index{0});
  const TreePass<kClasses, kIsa> pass(forest, leaf_values.data(), num_classes);
  for (std::size_t first = 0; first < x.rows; first += kPartitionBlockRows) {
    const std::size_t rows = std::min(kPartitionBlockRows, x.rows - first);
    for (std::size_t r = 0; r < rows; ++r) {
      const float* src = x.row(first + r);
      for (std::size_t c = 0; c < x.cols; ++c)
        columns[c * rows + r] = src[c];
    }
    Block block{columns.data(),
                rows,
                all,
                {indices.data() + block_rows, indices.data() + 2 * block_rows},
                out.data() + first * num_classes};
    if (kBitmapTop) block.bitmaps = bitmaps.data();
    const bool sort = rows >= kSortFromRows && forest.roots.size() > 1;
    if (!sort) {
      for (const std::uint32_t root : forest.roots)
        pass.run(block, root, stack);
      continue;
    }
    // The first tree in row order, noting where each row ended; the other trees then see the rows
    // grouped by that tree's leaves (see kSortFromRows). Each row's sum still runs in tree order,
    // only in another place: bit-identical.
    if (order.size() < rows) order.resize(rows);
    if (sorted_out.size() < rows * k) sorted_out.resize(rows * k);
    block.leaf_order = order.data();
    pass.run(block, forest.roots[0], stack);
    for (std::size_t p = 0; p < rows; ++p) {
      const float* src = x.row(first + order[p]);
      for (std::size_t c = 0; c < x.cols; ++c)
        columns[c * rows + p] = src[c];
      std::copy_n(block.out + order[p] * k, k, sorted_out.data() + p * k);
    }
    Block sorted = block;
    sorted.leaf_order = nullptr;
    sorted.out = sorted_out.data();
    for (std::size_t t = 1; t < forest.roots.size(); ++t)
      pass.run(sorted, forest.roots[t], stack);
    for (std::size_t p = 0; p < rows; ++p)
      std::copy_n(sorted_out.data() + p * k, k, block.out + order[p] * k);
  }
}

template <SplitIsa kIsa>
void add_leaves_with(const CompactForest& forest, const std::vector<float>& leaf_values,
                     std::size_t num_classes, MatrixView x, std::span<float> out) {
  if (num_classes == 2) return add_leaves<2, kIsa>(forest, leaf_values, num_classes, x, out);
  add_leaves<0, kIsa>(forest, leaf_values, num_classes, x, out);
}

}  // namespace

void partition_add_leaves(const CompactForest& forest, const std::vector<float>& leaf_values,
                          std::size_t num_classes, MatrixView x, std::span<float> out,
                          SplitIsa isa) {
  if (isa == SplitIsa::kAvx512)
    return add_leaves_with<SplitIsa::kAvx512>(forest, leaf_values, num_classes, x, out);
  if (isa == SplitIsa::kAvx2)
    return add_leaves_with<SplitIsa::kAvx2>(forest, leaf_values, num_classes, x, out);
}

#else  // no vector split: the lockstep walk is faster at every batch size

bool partition_supports(SplitIsa) {
  return false;
}

SplitIsa partition_isa() {
  return SplitIsa::kNone;
}

void partition_add_leaves(const CompactForest&, const std::vector<float>&, std::size_t, MatrixView,
                          std::span<float>, SplitIsa) {}

#endif

}  // namespace mls::detail
