#pragma once
// The CNN trainer's whole state between two mini-batches, so a stopped job resumes exactly where
// it stopped and ends bit-identical to an uninterrupted run.
//
// File: <checkpoint dir>/cnn-checkpoint.bin, written atomically (temp name, fsync, rename):
//   8 bytes   magic "MLSCKPT1"
//   4 bytes   header length H (uint32, little-endian)
//   H bytes   JSON header: fingerprint, position, optimizer scalars, early-stopping state,
//             history, and the element count of each float array below
//   float32   params, adam_m, adam_v, best_params (little-endian, in that order)
//   64 bytes  lower-case hex SHA-256 of everything before it
// Doubles in the header are written by nlohmann::json, which prints the shortest text that reads
// back as the same double, so they round-trip exactly.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/status.h"

namespace mls::cnn {

inline constexpr std::string_view kCheckpointFileName = "cnn-checkpoint.bin";

// One finished epoch, as printed.
struct EpochRecord {
  std::size_t epoch = 0;  // 1-based
  double train_loss = 0;
  bool has_validation = false;
  double validation_loss = 0;
  double validation_accuracy = 0;
  double validation_auc = 0;
  bool improved = false;  // became the best epoch so far
};

struct CnnCheckpoint {
  std::string fingerprint;  // of the hyperparameters and the data; another job's is ignored
  // Position: the next mini-batch to run is `batch` of 0-based `epoch`.
  std::size_t epoch = 0;
  std::size_t batch = 0;
  double epoch_loss_sum = 0;  // sum of (batch loss * batch size) so far in this epoch
  std::size_t epoch_images = 0;
  bool finished = false;  // all epochs done, or stopped early: only the model is left to write
  // Optimizer and dropout.
  std::vector<float> params, adam_m, adam_v;
  std::size_t adam_steps = 0;
  std::uint64_t dropout_state = 0;
  // Early stopping.
  bool has_best = false;
  double best_auc = 0;
  double best_loss = 0;
  std::size_t best_epoch = 0;  // 1-based
  std::size_t epochs_without_improvement = 0;
  std::vector<float> best_params;
  std::vector<EpochRecord> history;
};

std::string encode_checkpoint(const CnnCheckpoint& checkpoint);
// Errors: kDataLoss for anything truncated, corrupt or of another version.
Result<CnnCheckpoint> decode_checkpoint(std::string_view bytes);

std::filesystem::path checkpoint_path(const std::filesystem::path& dir);
// Creates dir if needed. Errors name the path.
Status write_checkpoint(const std::filesystem::path& dir, const CnnCheckpoint& checkpoint);
// std::nullopt when there is no checkpoint file; errors name the file.
Result<std::optional<CnnCheckpoint>> read_checkpoint(const std::filesystem::path& dir);
// Removes the checkpoint file if present. Errors name the path.
Status remove_checkpoint(const std::filesystem::path& dir);

}  // namespace mls::cnn
