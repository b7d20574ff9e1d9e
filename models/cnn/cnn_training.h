#pragma once
// The CNN's training loop: epochs of shuffled mini-batches, optional augmentation, validation
// after every epoch, early stopping on validation AUC that keeps the best weights, a checkpoint
// after every epoch and whenever the stop flag ends the run.
//
// Determinism: the weights come from `seed`; epoch e visits the images in an order drawn from
// (seed, e); image i in epoch e is augmented from (seed, e, i); the dropout stream lives in the
// trainer and is checkpointed. A run resumed from a checkpoint therefore ends with the same bits
// as an uninterrupted one.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "models/cnn/adam.h"
#include "models/cnn/augment.h"
#include "models/cnn/cnn_checkpoint.h"
#include "models/cnn/cnn_network.h"
#include "models/core/status.h"
#include "models/data/image_dataset.h"

namespace mls::cnn {

struct CnnTrainingParams {
  CnnArch arch;  // input_size must equal the images' size; num_classes the number of classes
  std::size_t epochs = 15;
  std::size_t batch_size = 64;
  AdamParams adam;
  std::uint64_t seed = 0;
  bool augment = true;
  AugmentParams augmentation;
  std::size_t early_stopping_patience = 5;  // epochs without a better validation AUC; 0: off
};

struct CnnTrainingEvents {
  // After every epoch (from the training thread), with its wall time.
  std::function<void(const EpochRecord&, double seconds)> on_epoch;
  // After every mini-batch, with its 0-based epoch and batch index.
  std::function<void(std::size_t epoch, std::size_t batch)> on_batch;
  // Resumed, checkpoint ignored or not written: for the caller's log.
  std::function<void(const std::string&)> on_note;
  std::function<void(const std::string&)> on_warning;
};

struct CnnTrainingResult {
  std::vector<float> params;  // the best epoch's (by validation AUC), else the last epoch's
  PixelStats normalisation;   // of the training pixels: goes into ModelInfo.image
  std::vector<EpochRecord> history;
  std::size_t best_epoch = 0;  // 1-based; 0 without validation data
  bool stopped_early = false;
  // 1-based epoch a checkpoint resumed in (epochs + 1 when it had finished); 0 for a fresh run.
  std::size_t resumed_at_epoch = 0;
};

// train: the images to learn from; validation: may be empty (then there is no early stopping).
// checkpoint_dir: empty for no checkpoints. stop (may be null): checked between mini-batches;
// when set, the state is checkpointed and kDeadlineExceeded returned, naming the checkpoint.
// Errors: kInvalidArgument for inconsistent inputs, kInternal if the loss diverges.
Result<CnnTrainingResult> train_cnn(const ImageSet& train, const ImageSet& validation,
                                    const CnnTrainingParams& params,
                                    const std::filesystem::path& checkpoint_dir,
                                    const std::atomic<bool>* stop = nullptr,
                                    const CnnTrainingEvents& events = {});

// The fingerprint a checkpoint must carry to be resumed by this job: SHA-256 over every
// setting above and the training and validation pixels and labels.
std::string training_fingerprint(const ImageSet& train, const ImageSet& validation,
                                 const CnnTrainingParams& params);

}  // namespace mls::cnn
