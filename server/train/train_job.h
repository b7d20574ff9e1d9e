#pragma once
// `train`: the SageMaker training contract, from /opt/ml/input to a model in /opt/ml/model.

#include <atomic>

#include "server/app/serve_options.h"

namespace mls::server {

// Returns the process exit code: 0 on success; otherwise output/failure holds the reason.
// stop (set by SIGTERM) ends training early with exit code 1 and the reason in output/failure:
// the forest writes nothing; the CNN first writes a checkpoint that the next run with the same
// checkpoint directory resumes from (server/train/cnn_job.h).
int run_train_job(const TrainOptions& options, const std::atomic<bool>& stop);

}  // namespace mls::server
