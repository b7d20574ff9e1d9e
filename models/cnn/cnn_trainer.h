#pragma once
// One mini-batch at a time: forward, backward, Adam. The epoch loop, shuffling, augmentation and
// early stopping belong to the caller.

#include <cstdint>
#include <span>
#include <vector>

#include "models/cnn/adam.h"
#include "models/cnn/cnn_network.h"
#include "models/core/matrix.h"
#include "models/core/status.h"

namespace mls::cnn {

class CnnTrainer {
 public:
  // Parameters He-initialised from `seed`; dropout masks drawn from a stream derived from it.
  static Result<CnnTrainer> create(const CnnArch& arch, const AdamParams& adam, std::uint64_t seed);

  // x [n, s*s] normalised pixels, labels [n] in [0, classes). Returns the batch's mean
  // cross-entropy before the update. Errors: kInvalidArgument for wrong shapes, labels out of
  // range, or an empty batch; kInternal if the loss is not finite (the update is then skipped).
  Result<float> train_step(MatrixView x, std::span<const int> labels);

  // Mean loss without dropout and without updating (for validation).
  Result<float> evaluate_loss(MatrixView x, std::span<const int> labels);

  const CnnNetwork& network() const { return network_; }
  const std::vector<float>& params() const { return params_; }
  // For checkpoints: restore parameters (sizes must match); the optimizer via optimizer().
  Status set_params(std::vector<float> params);
  Adam& optimizer() { return adam_; }
  const Adam& optimizer() const { return adam_; }
  std::uint64_t dropout_state() const { return dropout_state_; }
  void set_dropout_state(std::uint64_t state) { dropout_state_ = state; }

 private:
  CnnTrainer(CnnNetwork network, std::vector<float> params, const AdamParams& adam,
             std::uint64_t dropout_state);
  Status check_batch(MatrixView x, std::span<const int> labels) const;

  CnnNetwork network_;
  std::vector<float> params_;
  std::vector<float> grad_;
  Adam adam_;
  std::uint64_t dropout_state_;  // SplitMix64-stepped once per train_step: the mask seed
  CnnScratch scratch_;
};

}  // namespace mls::cnn
