#pragma once
// The CNN's hyperparameters, read from SageMaker's string values (see forest_params.h for the
// shared readers).

#include <string_view>
#include <vector>

#include "models/cnn/cnn_training.h"
#include "models/core/status.h"
#include "models/forest/forest_params.h"

namespace mls::cnn {

struct CnnJobParams {
  CnnTrainingParams training;  // arch.input_size is image_size; num_classes comes from the data
  std::size_t image_size = 28;
  // Share of the training images held out for validation when there is neither a validation
  // channel nor val_* arrays.
  double validation_fraction = 0.1;
};

// Reads epochs, batch_size, learning_rate, image_size, seed, conv1_channels, conv2_channels,
// hidden_units, dropout, augment, early_stopping_patience, validation_fraction.
// Errors: kInvalidArgument naming the key and the value.
Result<CnnJobParams> cnn_params_from(const Hyperparameters& hp);

// The keys cnn_params_from reads, so the caller can report the ones nobody reads.
const std::vector<std::string_view>& cnn_hyperparameter_names();

}  // namespace mls::cnn
