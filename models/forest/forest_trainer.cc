#include "models/forest/forest_trainer.h"

#include <algorithm>
#include <mutex>
#include <thread>

#include "models/forest/tree_builder.h"

namespace mls {
namespace {

using detail::ColumnData;
using detail::LocalTree;
using detail::SplitMix64;

ColumnData to_columns(const TabularDataset& data) {
  ColumnData c;
  c.n = data.x.rows;
  c.num_features = data.x.cols;
  c.num_classes = data.class_labels.size();
  c.y = data.y;
  c.columns.resize(c.n * c.num_features);
  for (std::size_t r = 0; r < c.n; ++r) {
    for (std::size_t f = 0; f < c.num_features; ++f)
      c.columns[f * c.n + r] = data.x.at(r, f);
  }
  return c;
}

// Class weights n / (k * count_c), over the rows with a non-zero count.
std::vector<double> balanced_weights(const ColumnData& data, const std::vector<double>& counts) {
  std::vector<double> per_class(data.num_classes, 0.0);
  double total = 0;
  for (std::size_t i = 0; i < data.n; ++i) {
    per_class[data.y[i]] += counts[i];
    total += counts[i];
  }
  for (double& w : per_class) {
    w = w > 0 ? total / (static_cast<double>(data.num_classes) * w) : 0.0;
  }
  return per_class;
}

// Tree t's sample counts: a bootstrap draw (with replacement) or every row once.
std::vector<double> draw_counts(std::size_t n, bool bootstrap, SplitMix64& rng) {
  std::vector<double> counts(n, bootstrap ? 0.0 : 1.0);
  if (bootstrap) {
    for (std::size_t i = 0; i < n; ++i)
      counts[rng.below(n)] += 1.0;
  }
  return counts;
}

SplitMix64 tree_rng(std::uint64_t seed, std::size_t tree) {
  SplitMix64 mix(seed ^ (0xD1B54A32D192ED03ULL * (tree + 1)));
  return SplitMix64(mix.next());
}

struct TreeJob {
  LocalTree tree;
  std::vector<double> counts;  // kept for the out-of-bag estimate
};

TreeJob fit_one(const ColumnData& data, const ForestParams& params,
                const std::vector<double>& class_weight, std::size_t t) {
  SplitMix64 rng = tree_rng(params.seed, t);
  TreeJob job;
  job.counts = draw_counts(data.n, params.bootstrap, rng);
  std::vector<double> cw = class_weight;
  if (params.class_weight == ClassWeight::kBalancedSubsample)
    cw = balanced_weights(data, job.counts);
  std::vector<double> weight(data.n);
  for (std::size_t i = 0; i < data.n; ++i) {
    weight[i] = job.counts[i] * (cw.empty() ? 1.0 : cw[data.y[i]]);
  }
  job.tree = detail::grow_tree(data, weight, params, rng);
  return job;
}

std::int32_t local_leaf(const LocalTree& tree, const float* columns, std::size_t n,
                        std::size_t row) {
  std::int32_t i = 0;
  while (tree.nodes[i].feature != ForestNode::kLeaf) {
    const ForestNode& node = tree.nodes[i];
    i = columns[node.feature * n + row] <= node.threshold ? node.left : node.right;
  }
  return tree.nodes[i].left;
}

void add_out_of_bag(const ColumnData& data, const TreeJob& job, std::vector<float>& oob,
                    std::vector<char>& has_oob) {
  const std::size_t k = data.num_classes;
  for (std::size_t r = 0; r < data.n; ++r) {
    if (job.counts[r] > 0) continue;
    const float* leaf =
        job.tree.leaf_values.data() +
        static_cast<std::size_t>(local_leaf(job.tree, data.columns.data(), data.n, r)) * k;
    for (std::size_t c = 0; c < k; ++c)
      oob[r * k + c] += leaf[c];
    has_oob[r] = 1;
  }
}

ForestArrays concatenate(std::vector<TreeJob>& jobs, std::size_t num_classes) {
  ForestArrays arrays;
  for (TreeJob& job : jobs) {
    const auto node_base = static_cast<std::int32_t>(arrays.nodes.size());
    const auto leaf_base = static_cast<std::int32_t>(arrays.leaf_values.size() / num_classes);
    arrays.tree_starts.push_back(node_base);
    for (ForestNode node : job.tree.nodes) {
      if (node.feature == ForestNode::kLeaf) {
        node.left += leaf_base;
      } else {
        node.left += node_base;
        node.right += node_base;
      }
      arrays.nodes.push_back(node);
    }
    arrays.leaf_values.insert(arrays.leaf_values.end(), job.tree.leaf_values.begin(),
                              job.tree.leaf_values.end());
  }
  return arrays;
}

}  // namespace

Result<ForestTrainResult> train_forest(const TabularDataset& data, const ForestParams& params,
                                       ModelInfo info, const std::atomic<bool>* stop,
                                       const TreeProgressFn& progress) {
  if (data.x.rows == 0 || data.x.cols == 0) {
    return make_error(ErrorCode::kInvalidArgument, "the training data has no rows");
  }
  if (data.class_labels.size() < 2) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the training data has only one class; a classifier needs at least two");
  }
  const ColumnData columns = to_columns(data);
  std::vector<double> class_weight;
  if (params.class_weight == ClassWeight::kBalanced) {
    class_weight = balanced_weights(columns, std::vector<double>(columns.n, 1.0));
  }

  const auto num_trees = static_cast<std::size_t>(params.n_estimators);
  std::vector<TreeJob> jobs(num_trees);
  std::atomic<std::size_t> next{0};
  std::size_t done = 0;  // guarded by progress_mutex
  std::atomic<bool> stopped{false};
  std::mutex progress_mutex;
  auto worker = [&] {
    for (std::size_t t = next++; t < num_trees; t = next++) {
      if (stop != nullptr && stop->load()) {
        stopped = true;
        return;
      }
      jobs[t] = fit_one(columns, params, class_weight, t);
      if (progress) {
        // Counted under the lock that orders the calls, so the counts reach the caller in order
        // (counted outside it, a preempted worker could report 2 of 5 after 5 of 5).
        std::lock_guard lock(progress_mutex);
        progress(++done, num_trees);
      }
    }
  };
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t threads = std::min<std::size_t>(
      num_trees, params.n_jobs > 0 ? static_cast<unsigned>(params.n_jobs) : cores);
  std::vector<std::jthread> pool;
  for (std::size_t i = 1; i < threads; ++i)
    pool.emplace_back(worker);
  worker();
  pool.clear();  // joins
  if (stopped) return make_error(ErrorCode::kDeadlineExceeded, "training was interrupted");

  const std::size_t k = data.class_labels.size();
  std::vector<float> oob;
  std::vector<char> has_oob(columns.n, 0);
  if (params.bootstrap) {
    oob.assign(columns.n * k, 0.0f);
    for (const TreeJob& job : jobs)
      add_out_of_bag(columns, job, oob, has_oob);
    for (std::size_t r = 0; r < columns.n; ++r) {
      float sum = 0;
      for (std::size_t c = 0; c < k; ++c)
        sum += oob[r * k + c];
      for (std::size_t c = 0; c < k && sum > 0; ++c)
        oob[r * k + c] /= sum;
    }
  }

  info.model_type = "forest";
  info.input_kind = InputKind::kTabular;
  info.num_features = data.x.cols;
  info.class_labels = data.class_labels;
  if (info.class_names.size() != k) {
    info.class_names.clear();
    for (double label : data.class_labels) {
      std::string name = std::to_string(label);
      if (label == static_cast<double>(static_cast<long long>(label))) {
        name = std::to_string(static_cast<long long>(label));
      }
      info.class_names.push_back(name);
    }
  }
  if (info.feature_names.empty()) info.feature_names = data.feature_names;
  auto forest = RandomForest::create(std::move(info), concatenate(jobs, k));
  if (!forest)
    return make_error(ErrorCode::kInternal,
                      "trainer built an invalid forest: " + forest.error().message);
  return ForestTrainResult{std::move(forest).value(), std::move(oob), std::move(has_oob)};
}

}  // namespace mls
