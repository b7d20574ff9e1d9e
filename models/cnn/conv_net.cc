#include "models/cnn/conv_net.h"

#include <cmath>
#include <string>
#include <utility>

namespace mls {

ConvNet::ConvNet(ModelInfo info, cnn::CnnNetwork network, std::vector<float> params)
    : info_(std::move(info)), network_(std::move(network)), params_(std::move(params)) {
  prepared_ = cnn::prepare_inference(network_.arch(), network_.layout(), params_.data());
}

Result<ConvNet> ConvNet::create(ModelInfo info, const cnn::CnnArch& arch,
                                std::vector<float> params) {
  auto network = cnn::CnnNetwork::create(arch);
  if (!network) return network.error();
  if (info.input_kind != InputKind::kImage) {
    return make_error(ErrorCode::kDataLoss, "a cnn reads images (input_kind must be image)");
  }
  if (info.image.size != arch.input_size) {
    return make_error(ErrorCode::kDataLoss, "image size " + std::to_string(info.image.size) +
                                                " does not match the network's input side " +
                                                std::to_string(arch.input_size));
  }
  if (info.num_features != network->num_features()) {
    return make_error(ErrorCode::kDataLoss, "num_features " + std::to_string(info.num_features) +
                                                " does not match " +
                                                std::to_string(arch.input_size) + "x" +
                                                std::to_string(arch.input_size) + " inputs");
  }
  if (info.class_labels.size() != arch.num_classes) {
    return make_error(ErrorCode::kDataLoss, "class labels do not match the network's outputs");
  }
  if (params.size() != network->num_params()) {
    return make_error(ErrorCode::kDataLoss, "expected " + std::to_string(network->num_params()) +
                                                " weights, got " + std::to_string(params.size()));
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!std::isfinite(params[i])) {
      return make_error(ErrorCode::kDataLoss, "weight " + std::to_string(i) + " is not finite");
    }
  }
  return ConvNet(std::move(info), std::move(*network), std::move(params));
}

void ConvNet::predict_proba(MatrixView x, std::span<float> out) const {
  thread_local cnn::CnnScratch scratch;
  network_.predict(params_, x.data, x.rows, out.data(), scratch, &prepared_);
}

}  // namespace mls
