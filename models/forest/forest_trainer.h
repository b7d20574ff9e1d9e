#pragma once
// CART trees (Gini impurity) bagged into a random forest, trained on every core.
// Deterministic for a given seed whatever the thread count: tree t draws only from its own
// random stream, derived from (seed, t).

#include <atomic>
#include <functional>
#include <vector>

#include "models/core/status.h"
#include "models/data/tabular_dataset.h"
#include "models/forest/forest.h"
#include "models/forest/forest_params.h"

namespace mls {

struct ForestTrainResult {
  RandomForest forest;
  // Out-of-bag class probabilities [n, num_classes] for rows some tree left out (bootstrap only);
  // has_oob[i] says whether row i has one.
  std::vector<float> oob_proba;
  std::vector<char> has_oob;
};

// Called after each finished tree, from a worker thread, with (trees done, total).
using TreeProgressFn = std::function<void(std::size_t, std::size_t)>;

// info supplies names and the training metadata to carry; features, classes and model_type are
// filled in here. stop (may be null) ends training early with kDeadlineExceeded.
// Errors: kInvalidArgument for an empty data set or a single class.
Result<ForestTrainResult> train_forest(const TabularDataset& data, const ForestParams& params,
                                       ModelInfo info, const std::atomic<bool>* stop = nullptr,
                                       const TreeProgressFn& progress = {});

}  // namespace mls
