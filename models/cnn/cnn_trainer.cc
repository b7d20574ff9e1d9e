#include "models/cnn/cnn_trainer.h"

#include <cmath>
#include <string>
#include <utility>

#include "models/cnn/cnn_random.h"

namespace mls::cnn {

CnnTrainer::CnnTrainer(CnnNetwork network, std::vector<float> params, const AdamParams& adam,
                       std::uint64_t dropout_state)
    : network_(std::move(network)),
      params_(std::move(params)),
      grad_(params_.size(), 0.0f),
      adam_(params_.size(), adam),
      dropout_state_(dropout_state) {}

Result<CnnTrainer> CnnTrainer::create(const CnnArch& arch, const AdamParams& adam,
                                      std::uint64_t seed) {
  if (!(adam.learning_rate > 0.0f) || !(adam.beta1 >= 0.0f && adam.beta1 < 1.0f) ||
      !(adam.beta2 >= 0.0f && adam.beta2 < 1.0f) || !(adam.epsilon > 0.0f)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "adam: need learning_rate > 0, betas in [0, 1), epsilon > 0");
  }
  auto network = CnnNetwork::create(arch);
  if (!network) return network.error();
  std::vector<float> params = network->init_params(seed);
  // A separate stream for dropout, so the masks do not reuse the initialisation's numbers.
  const std::uint64_t dropout_state = SplitMix64(seed ^ 0xD50F0D50F0D50F0DULL).next();
  return CnnTrainer(std::move(*network), std::move(params), adam, dropout_state);
}

Status CnnTrainer::check_batch(MatrixView x, std::span<const int> labels) const {
  if (x.rows == 0) return make_error(ErrorCode::kInvalidArgument, "empty batch");
  if (x.cols != network_.num_features()) {
    return make_error(ErrorCode::kInvalidArgument, "batch has " + std::to_string(x.cols) +
                                                       " columns, the network reads " +
                                                       std::to_string(network_.num_features()));
  }
  if (labels.size() != x.rows) {
    return make_error(ErrorCode::kInvalidArgument, "labels and rows differ in count");
  }
  const auto classes = static_cast<int>(network_.arch().num_classes);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "label " + std::to_string(labels[i]) + " out of range at row " + std::to_string(i));
    }
  }
  return Ok{};
}

Result<float> CnnTrainer::train_step(MatrixView x, std::span<const int> labels) {
  if (Status st = check_batch(x, labels); !st) return st.error();
  // One SplitMix64 step: the state advances by the golden gamma, the mask seed is its output.
  const std::uint64_t mask_seed = SplitMix64(dropout_state_).next();
  dropout_state_ += 0x9E3779B97F4A7C15ULL;
  const float loss = network_.loss_and_gradient(params_, x.data, labels.data(), x.rows, mask_seed,
                                                grad_, scratch_);
  if (!std::isfinite(loss)) {
    return make_error(ErrorCode::kInternal,
                      "training loss is not finite (learning rate too high?)");
  }
  adam_.step(params_, grad_);
  return loss;
}

Result<float> CnnTrainer::evaluate_loss(MatrixView x, std::span<const int> labels) {
  if (Status st = check_batch(x, labels); !st) return st.error();
  return network_.loss_and_gradient(params_, x.data, labels.data(), x.rows, std::nullopt, grad_,
                                    scratch_);
}

Status CnnTrainer::set_params(std::vector<float> params) {
  if (params.size() != network_.num_params()) {
    return make_error(ErrorCode::kInvalidArgument, "parameter count does not match the network");
  }
  params_ = std::move(params);
  return Ok{};
}

}  // namespace mls::cnn
