#include "models/forest/tree_builder.h"

#include <algorithm>
#include <numeric>

namespace mls::detail {
namespace {

// A relative margin so that float noise never counts as an impurity decrease.
constexpr double kMinGain = 1e-12;

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
      sorted_.push_back({column[samples_[i]], samples_[i]});
    std::sort(sorted_.begin(), sorted_.end());
    if (sorted_.front().first == sorted_.back().first) return false;
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
      const auto s = sorted_[i].second;
      const double w = weight_[s];
      const int c = data_.y[s];
      // Update the sums of squares incrementally: (a+w)^2 - a^2 = w(2a+w).
      left_sq += w * (2 * left_[c] + w);
      right_sq += w * (w - 2 * right_[c]);
      left_[c] += w;
      right_[c] -= w;
      left_sum += w;
      right_sum -= w;
      if (sorted_[i].first == sorted_[i + 1].first) continue;
      if (i + 1 < min_leaf || n - i - 1 < min_leaf) continue;
      const double score = left_sq / left_sum + right_sq / right_sum;
      if (score > best.score) {
        best.score = score;
        best.feature = f;
        const float lo = sorted_[i].first, hi = sorted_[i + 1].first;
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
  std::vector<std::pair<float, std::int32_t>> sorted_;
  std::vector<double> left_, right_, totals_;
  LocalTree tree_;
};

}  // namespace

LocalTree grow_tree(const ColumnData& data, const std::vector<double>& sample_weight,
                    const ForestParams& params, SplitMix64& rng) {
  return TreeGrower(data, sample_weight, params, rng).grow();
}

}  // namespace mls::detail
