#pragma once
// `train` for model_type=cnn: images from the training channel (and the validation channel, the
// val_* arrays or a held-out share of the training images) to a ConvNet in the model directory.
//
// Output on stdout, for SageMaker MetricDefinitions:
//   per epoch, one line:  epoch=3/15 train:loss=0.2113 validation:loss=0.1624
//                         validation:accuracy=0.9370 validation:auc=0.9861 seconds=2.0
//   at the end:           train:accuracy=… train:auc=… train:f1=… train:log_loss=…
//                         validation:accuracy=… validation:auc=… validation:f1=…
//                         validation:log_loss=…
// Regexes: "train:loss=([0-9.eE+-]+)", "validation:accuracy=([0-9.]+)", "validation:auc=([0-9.]+)".
//
// Stop flag (SIGTERM): the trainer checkpoints to TrainOptions::checkpoint_dir between two
// mini-batches and the job fails with kDeadlineExceeded (exit 1 and output/failure, as the forest
// does); the next run with the same checkpoint directory resumes. The checkpoint is deleted once
// the model is written.

#include <atomic>
#include <filesystem>

#include "models/core/status.h"
#include "models/forest/forest_params.h"
#include "server/app/serve_options.h"

namespace mls::server {

Status train_cnn_job(const TrainOptions& options, const Hyperparameters& hp,
                     const std::filesystem::path& data_dir, const std::atomic<bool>& stop);

}  // namespace mls::server
