#pragma once
// A labelled table for training: features, class indices, and what the indices mean.

#include <string>
#include <vector>

#include "models/core/matrix.h"

namespace mls {

struct TabularDataset {
  Matrix x;                                // [n, num_features]
  std::vector<int> y;                      // [n] class index into class_labels
  std::vector<double> class_labels;        // ascending label values
  std::vector<std::string> feature_names;  // from a header line, else empty
};

}  // namespace mls
