#pragma once
// predict_proba over a CompactForest: sums each row's leaf distributions tree by tree, in tree
// order, exactly as the generic walk does (so the floats are bit-identical), then divides by the
// tree count.

#include <span>
#include <vector>

#include "models/core/matrix.h"
#include "models/forest/compact_forest.h"

namespace mls::detail {

void compact_predict_proba(const CompactForest& forest, const std::vector<float>& leaf_values,
                           std::size_t num_classes, MatrixView x, std::span<float> out);

}  // namespace mls::detail
