#include "models/forest/tree_builder.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <numeric>

namespace mls::detail {
namespace {

// A relative margin so that float noise never counts as an impurity decrease.
constexpr double kMinGain = 1e-12;

// A node's samples ordered by one feature, as 64-bit items: the value's order-preserving bits
// above the sample index. Sorting the items sorts by value then index, like sorting
// (value, index) pairs, with one integer compare.
std::uint64_t sort_item(float value, std::int32_t sample) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  bits ^= (bits >> 31) != 0 ? 0xFFFFFFFFu : 0x80000000u;  // negative floats reverse their order
  return (static_cast<std::uint64_t>(bits) << 32) | static_cast<std::uint32_t>(sample);
}

float item_value(std::uint64_t item) {
  std::uint32_t bits = static_cast<std::uint32_t>(item >> 32);
  bits ^= (bits >> 31) != 0 ? 0x80000000u : 0xFFFFFFFFu;
  return std::bit_cast<float>(bits);
}

std::int32_t item_sample(std::uint64_t item) {
  return static_cast<std::int32_t>(item);
}

// Below this many items std::sort wins; above it, an LSD radix sort on the value bits (the sort
// was over half of training time: a comparison sort mispredicts about one branch in two on
// random values). Equal values keep their order in samples_ (std::sort orders them by index);
// either order finds the same splits, up to the rounding of the running class sums.
constexpr std::size_t kRadixMin = 512;
constexpr int kDigitBits = 11;
constexpr std::size_t kBuckets = std::size_t{1} << kDigitBits;

void sort_items(std::vector<std::uint64_t>& items, std::vector<std::uint64_t>& scratch) {
  const std::size_t n = items.size();
  if (n < kRadixMin) {
    std::sort(items.begin(), items.end());
    return;
  }
  constexpr int kPasses = 3;  // 33 bits cover the 32 value bits
  std::array<std::array<std::uint32_t, kBuckets>, kPasses> counts{};
  for (const std::uint64_t item : items) {
    const auto key = static_cast<std::uint32_t>(item >> 32);
    for (int p = 0; p < kPasses; ++p)
      ++counts[p][(key >> (p * kDigitBits)) & (kBuckets - 1)];
  }
  scratch.resize(n);
  for (int p = 0; p < kPasses; ++p) {
    auto& count = counts[p];
    // A digit every item shares moves nothing: skip the pass.
    if (std::any_of(count.begin(), count.end(), [n](std::uint32_t c) { return c == n; })) continue;
    std::uint32_t offset = 0;
    for (std::uint32_t& c : count) {
      const std::uint32_t here = c;
      c = offset;
      offset += here;
    }
    for (const std::uint64_t item : items) {
      const auto key = static_cast<std::uint32_t>(item >> 32);
      scratch[count[(key >> (p * kDigitBits)) & (kBuckets - 1)]++] = item;
    }
    items.swap(scratch);
  }
}

struct Split {
  int feature = -1;
  float threshold = 0;
  double score = 0;  // sum over children of (sum_c w_c^2) / W: larger is purer
};

struct Pending {
  std::size_t begin, end;  // range of TreeGrower::samples_
  int depth;
  std::int32_t parent;  // -1 for the root
  bool is_right;        // which of the parent's children this is
};

class TreeGrower {
 public:
  TreeGrower(const ColumnData& data, const std::vector<double>& weight, const ForestParams& params,
             SplitMix64& rng)
      : data_(data), weight_(weight), params_(params), rng_(rng), k_(data.num_classes) {
    for (std::size_t i = 0; i < data.n; ++i) {
      if (weight[i] > 0) samples_.push_back(static_cast<std::int32_t>(i));
    }
    features_.resize(data.num_features);
    std::iota(features_.begin(), features_.end(), 0);
    left_.resize(k_);
    right_.resize(k_);
    totals_.resize(k_);
  }

  LocalTree grow() {
    // Depth-first, left child first: every child lands after its parent in `nodes`.
    std::vector<Pending> stack{{0, samples_.size(), 0, -1, false}};
    tree_.nodes.reserve(2 * samples_.size() / std::max(1, params_.min_samples_leaf) + 1);
    while (!stack.empty()) {
      Pending p = stack.back();
      stack.pop_back();
      const auto index = static_cast<std::int32_t>(tree_.nodes.size());
      tree_.nodes.emplace_back();
      if (p.parent >= 0) {
        ForestNode& parent = tree_.nodes[p.parent];
        (p.is_right ? parent.right : parent.left) = index;
      }
      class_totals(p.begin, p.end);
      Split split;
      if (can_split(p)) split = best_split(p.begin, p.end);
      if (split.feature < 0) {
        make_leaf(index);
        continue;
      }
      const std::size_t mid = partition(p.begin, p.end, split);
      ForestNode& node = tree_.nodes[index];
      node.feature = split.feature;
      node.threshold = split.threshold;
      stack.push_back({mid, p.end, p.depth + 1, index, true});
      stack.push_back({p.begin, mid, p.depth + 1, index, false});
    }
    return std::move(tree_);
  }

 private:
  void class_totals(std::size_t begin, std::size_t end) {
    std::fill(totals_.begin(), totals_.end(), 0.0);
    for (std::size_t i = begin; i < end; ++i) {
      const auto s = samples_[i];
      totals_[data_.y[s]] += weight_[s];
    }
  }

  bool can_split(const Pending& p) const {
    const std::size_t n = p.end - p.begin;
    if (params_.max_depth > 0 && p.depth >= params_.max_depth) return false;
    if (n < static_cast<std::size_t>(params_.min_samples_split)) return false;
    if (n < 2 * static_cast<std::size_t>(params_.min_samples_leaf)) return false;
    int classes_present = 0;
    for (double t : totals_)
      classes_present += t > 0;
    return classes_present > 1;
  }

  static double purity(const std::vector<double>& w) {
    double sum = 0, sq = 0;
    for (double v : w) {
      sum += v;
      sq += v * v;
    }
    return sum > 0 ? sq / sum : 0;
  }

  Split best_split(std::size_t begin, std::size_t end) {
    Split best;
    best.score = purity(totals_) * (1 + kMinGain);
    const std::size_t wanted = params_.features_per_split(data_.num_features);
    std::size_t tried = 0;
    // Draw features without replacement until `wanted` non-constant ones were tried.
    for (std::size_t i = 0; i < features_.size() && tried < wanted; ++i) {
      std::swap(features_[i], features_[i + rng_.below(features_.size() - i)]);
      if (scan_feature(features_[i], begin, end, best)) ++tried;
    }
    return best;
  }

  // Returns false when the feature is constant in this node.
  bool scan_feature(int f, std::size_t begin, std::size_t end, Split& best) {
    const float* column = data_.column(f);
    sorted_.clear();
    for (std::size_t i = begin; i < end; ++i)
      sorted_.push_back(sort_item(column[samples_[i]], samples_[i]));
    sort_items(sorted_, scratch_);
    if (item_value(sorted_.front()) == item_value(sorted_.back())) return false;
    std::fill(left_.begin(), left_.end(), 0.0);
    right_ = totals_;
    double left_sum = 0, left_sq = 0, right_sum = 0, right_sq = 0;
    for (double v : right_) {
      right_sum += v;
      right_sq += v * v;
    }
    const std::size_t n = sorted_.size();
    const auto min_leaf = static_cast<std::size_t>(params_.min_samples_leaf);
    for (std::size_t i = 0; i + 1 < n; ++i) {
      const auto s = item_sample(sorted_[i]);
      const double w = weight_[s];
      const int c = data_.y[s];
      // Update the sums of squares incrementally: (a+w)^2 - a^2 = w(2a+w).
      left_sq += w * (2 * left_[c] + w);
      right_sq += w * (w - 2 * right_[c]);
      left_[c] += w;
      right_[c] -= w;
      left_sum += w;
      right_sum -= w;
      const float value = item_value(sorted_[i]), next_value = item_value(sorted_[i + 1]);
      if (value == next_value) continue;
      if (i + 1 < min_leaf || n - i - 1 < min_leaf) continue;
      const double score = left_sq / left_sum + right_sq / right_sum;
      if (score > best.score) {
        best.score = score;
        best.feature = f;
        const float lo = value, hi = next_value;
        float t = lo + (hi - lo) / 2;
        if (!(t >= lo && t < hi)) t = lo;  // rounding must not send `hi` left
        best.threshold = t;
      }
    }
    return true;
  }

  std::size_t partition(std::size_t begin, std::size_t end, const Split& split) {
    const float* column = data_.column(split.feature);
    auto mid = std::partition(samples_.begin() + begin, samples_.begin() + end,
                              [&](std::int32_t s) { return column[s] <= split.threshold; });
    return static_cast<std::size_t>(mid - samples_.begin());
  }

  void make_leaf(std::int32_t index) {
    double sum = 0;
    for (double t : totals_)
      sum += t;
    const auto leaf_row = static_cast<std::int32_t>(tree_.leaf_values.size() / k_);
    for (double t : totals_)
      tree_.leaf_values.push_back(static_cast<float>(t / sum));
    ForestNode& node = tree_.nodes[index];
    node.feature = ForestNode::kLeaf;
    node.left = leaf_row;
  }

  const ColumnData& data_;
  const std::vector<double>& weight_;
  const ForestParams& params_;
  SplitMix64& rng_;
  const std::size_t k_;
  std::vector<std::int32_t> samples_;
  std::vector<int> features_;
  std::vector<std::uint64_t> sorted_, scratch_;
  std::vector<double> left_, right_, totals_;
  LocalTree tree_;
};

}  // namespace

LocalTree grow_tree(const ColumnData& data, const std::vector<double>& sample_weight,
                    const ForestParams& params, SplitMix64& rng) {
  return TreeGrower(data, sample_weight, params, rng).grow();
}

}  // namespace mls::detail
