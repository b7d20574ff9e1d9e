#pragma once
// The trained CNN as a Model: immutable parameters, per-thread scratch, safe to share across
// threads.

#include <span>
#include <vector>

#include "models/cnn/cnn_network.h"
#include "models/core/model.h"
#include "models/core/status.h"

namespace mls {

class ConvNet final : public Model {
 public:
  // Checks that info matches the architecture (input_kind kImage, num_features = side², one class
  // label per output) and that params has the right size and is finite.
  // Errors: kInvalidArgument for a bad architecture, kDataLoss for mismatched or bad weights.
  static Result<ConvNet> create(ModelInfo info, const cnn::CnnArch& arch,
                                std::vector<float> params);

  const ModelInfo& info() const override { return info_; }
  const cnn::CnnArch& arch() const { return network_.arch(); }
  std::span<const float> params() const { return params_; }

  // x: [n, side*side] normalised pixels; out: [n, classes]. Rows are run in blocks of kBlock
  // images (CnnNetwork::kPreparedBlock), so memory stays bounded for any n and a row's result does
  // not depend on the rows batched with it.
  // The activations live in a thread_local scratch that every ConvNet on the thread reuses: nothing
  // mutable is shared between threads, and no call pays for allocating and paging in fresh buffers.
  void predict_proba(MatrixView x, std::span<float> out) const override;

  static constexpr std::size_t kBlock = cnn::CnnNetwork::kPreparedBlock;

 private:
  ConvNet(ModelInfo info, cnn::CnnNetwork network, std::vector<float> params);

  ModelInfo info_;
  cnn::CnnNetwork network_;
  std::vector<float> params_;
  cnn::InferenceWeights prepared_;  // derived from params_ once, at load
};

}  // namespace mls
