#pragma once
// A fitted random forest: the arrays forest.bin stores (forest_arrays.h), and the packed copy of
// them that prediction walks (compact_forest.h), built once in create().

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "models/core/model.h"
#include "models/core/status.h"
#include "models/forest/compact_forest.h"
#include "models/forest/forest_arrays.h"

namespace mls {

class RandomForest final : public Model {
 public:
  // Checks every index (children after their parent and inside their tree, features and leaf rows
  // in range), so prediction never has to. Errors: kDataLoss naming the first bad node.
  static Result<RandomForest> create(ModelInfo info, ForestArrays arrays);

  const ModelInfo& info() const override { return info_; }
  const ForestArrays& arrays() const { return arrays_; }
  std::size_t num_trees() const { return arrays_.tree_starts.size(); }
  std::size_t num_nodes() const { return arrays_.nodes.size(); }
  // Whether predict_proba walks the packed 8-byte layout (false: the generic walk of arrays()).
  bool uses_compact_layout() const { return compact_.has_value(); }

  void predict_proba(MatrixView x, std::span<float> out) const override;

 private:
  RandomForest(ModelInfo info, ForestArrays arrays);

  ModelInfo info_;
  ForestArrays arrays_;
  // Empty only for forests the 8-byte encoding cannot hold; those take the generic walk.
  std::optional<detail::CompactForest> compact_;
};

}  // namespace mls
