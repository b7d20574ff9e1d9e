#include "models/cnn/cnn_training.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <numeric>
#include <sstream>
#include <utility>

#include "models/artifact/artifact_files.h"
#include "models/cnn/cnn_random.h"
#include "models/cnn/cnn_trainer.h"
#include "models/eval/classification_metrics.h"

namespace mls::cnn {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kShuffleTag = 0x5B0FF1E5ULL;
constexpr std::size_t kEvalBlock = 256;

std::string_view bytes_of(const std::vector<float>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)};
}
std::string_view bytes_of(const std::vector<int>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int)};
}

// The visiting order of epoch `epoch`: a Fisher-Yates shuffle from (seed, epoch).
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::size_t epoch) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  SplitMix64 rng(derive_seed(seed, kShuffleTag, epoch));
  for (std::size_t i = n; i > 1; --i)
    std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

// Validation log loss, accuracy and AUC of params on x.
ClassificationScores evaluate(const CnnNetwork& network, std::span<const float> params,
                              const Matrix& x, const std::vector<int>& labels) {
  const std::size_t k = network.arch().num_classes;
  std::vector<float> probs(x.rows * k);
  CnnScratch scratch;
  for (std::size_t start = 0; start < x.rows; start += kEvalBlock) {
    const std::size_t n = std::min(kEvalBlock, x.rows - start);
    network.predict(params, x.row(start), n, probs.data() + start * k, scratch);
  }
  return score_classifier(labels, probs, k);
}

class TrainingLoop {
 public:
  TrainingLoop(const ImageSet& train, const ImageSet& validation, const CnnTrainingParams& params,
               const fs::path& checkpoint_dir, const std::atomic<bool>* stop,
               const CnnTrainingEvents& events, CnnTrainer trainer)
      : train_(train),
        params_(params),
        checkpoint_dir_(checkpoint_dir),
        stop_(stop),
        events_(events),
        trainer_(std::move(trainer)),
        stats_(pixel_stats(train)),
        val_x_(normalised(validation, stats_)),
        val_labels_(validation.labels) {
    state_.fingerprint = training_fingerprint(train, validation, params);
  }

  Result<CnnTrainingResult> run() {
    CnnTrainingResult result;
    result.resumed_at_epoch = try_resume();
    const std::size_t n = train_.count();
    const std::size_t batches = (n + params_.batch_size - 1) / params_.batch_size;
    while (!state_.finished) {
      const auto epoch_start = std::chrono::steady_clock::now();
      const std::vector<std::size_t> order = epoch_order(n, params_.seed, state_.epoch);
      for (; state_.batch < batches; ++state_.batch) {
        if (stop_ != nullptr && stop_->load()) return stopped(batches);
        const std::size_t begin = state_.batch * params_.batch_size;
        const std::size_t end = std::min(n, begin + params_.batch_size);
        fill_batch(order, begin, end);
        auto loss = trainer_.train_step(MatrixView{batch_x_.data(), end - begin, pixels()},
                                        std::span<const int>(batch_y_.data(), end - begin));
        if (!loss) return loss.error();
        state_.epoch_loss_sum += static_cast<double>(*loss) * static_cast<double>(end - begin);
        state_.epoch_images += end - begin;
        if (events_.on_batch) events_.on_batch(state_.epoch, state_.batch);
      }
      finish_epoch(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count());
      save_checkpoint_or_warn();
    }
    result.params = state_.has_best ? state_.best_params : trainer_.params();
    result.normalisation = stats_;
    result.history = state_.history;
    result.best_epoch = state_.has_best ? state_.best_epoch : 0;
    result.stopped_early = state_.history.size() < params_.epochs;
    return result;
  }

 private:
  std::size_t pixels() const { return train_.image_pixels(); }

  void note(const std::string& text) const {
    if (events_.on_note) events_.on_note(text);
  }
  void warn(const std::string& text) const {
    if (events_.on_warning) events_.on_warning(text);
  }

  // Restores a matching checkpoint; returns the 1-based epoch it resumes in, or 0.
  std::size_t try_resume() {
    if (checkpoint_dir_.empty()) return 0;
    auto loaded = read_checkpoint(checkpoint_dir_);
    if (!loaded) {
      warn("ignoring the checkpoint, starting afresh: " + loaded.error().message);
      return 0;
    }
    if (!*loaded) return 0;
    CnnCheckpoint& c = **loaded;
    const std::string path = checkpoint_path(checkpoint_dir_).string();
    if (c.fingerprint != state_.fingerprint) {
      warn("ignoring the checkpoint " + path +
           ": it is from a job with other hyperparameters or data; starting afresh");
      return 0;
    }
    const std::size_t batches = (train_.count() + params_.batch_size - 1) / params_.batch_size;
    if (c.epoch > params_.epochs || c.batch > batches || c.history.size() != c.epoch) {
      warn("ignoring the checkpoint " + path + ": its position is not one this job reaches");
      return 0;
    }
    if (c.params.size() != trainer_.params().size() || !trainer_.set_params(c.params) ||
        !trainer_.optimizer().restore(c.adam_m, c.adam_v, c.adam_steps)) {
      warn("ignoring the checkpoint " + path + ": its arrays do not fit the network");
      return 0;
    }
    trainer_.set_dropout_state(c.dropout_state);
    c.params.clear();
    c.adam_m.clear();
    c.adam_v.clear();
    state_ = std::move(c);
    if (state_.finished) {
      note("resuming from the checkpoint " + path + ": training had finished (" +
           std::to_string(state_.history.size()) + " epochs); only the model is left to write");
    } else {
      note("resuming from the checkpoint " + path + " at epoch " +
           std::to_string(state_.epoch + 1) + ", mini-batch " + std::to_string(state_.batch + 1));
    }
    return state_.epoch + 1;
  }

  void fill_batch(const std::vector<std::size_t>& order, std::size_t begin, std::size_t end) {
    batch_x_.resize(params_.batch_size * pixels());
    batch_y_.resize(params_.batch_size);
    augmented_.resize(pixels());
    for (std::size_t j = begin; j < end; ++j) {
      const std::size_t index = order[j];
      const float* src = train_.image(index);
      if (params_.augment) {
        augment_image(src, train_.size, params_.augmentation,
                      augment_seed(params_.seed, state_.epoch, index), augmented_.data());
        src = augmented_.data();
      }
      normalise_pixels(src, pixels(), stats_, batch_x_.data() + (j - begin) * pixels());
      batch_y_[j - begin] = train_.labels[index];
    }
  }

  void finish_epoch(double seconds) {
    EpochRecord record;
    record.epoch = state_.epoch + 1;
    record.train_loss = state_.epoch_images > 0
                            ? state_.epoch_loss_sum / static_cast<double>(state_.epoch_images)
                            : 0.0;
    if (val_x_.rows > 0) {
      const ClassificationScores s =
          evaluate(trainer_.network(), trainer_.params(), val_x_, val_labels_);
      record.has_validation = true;
      record.validation_loss = s.log_loss;
      record.validation_accuracy = s.accuracy;
      record.validation_auc = s.auc;
      // Ties on AUC (common once it nears 1) go to the lower loss.
      record.improved = !state_.has_best || s.auc > state_.best_auc ||
                        (s.auc == state_.best_auc && s.log_loss < state_.best_loss);
      if (record.improved) {
        state_.has_best = true;
        state_.best_auc = s.auc;
        state_.best_loss = s.log_loss;
        state_.best_epoch = record.epoch;
        state_.best_params = trainer_.params();
        state_.epochs_without_improvement = 0;
      } else {
        ++state_.epochs_without_improvement;
      }
    }
    state_.history.push_back(record);
    if (events_.on_epoch) events_.on_epoch(record, seconds);
    ++state_.epoch;
    state_.batch = 0;
    state_.epoch_loss_sum = 0;
    state_.epoch_images = 0;
    const std::size_t patience = params_.early_stopping_patience;
    if (patience > 0 && state_.has_best && state_.epochs_without_improvement >= patience &&
        state_.epoch < params_.epochs) {
      note("early stopping: validation AUC has not improved for " + std::to_string(patience) +
           " epochs; keeping epoch " + std::to_string(state_.best_epoch));
      state_.finished = true;
    }
    if (state_.epoch >= params_.epochs) state_.finished = true;
  }

  CnnCheckpoint snapshot() const {
    CnnCheckpoint c = state_;
    c.params = trainer_.params();
    c.adam_m = trainer_.optimizer().first_moment();
    c.adam_v = trainer_.optimizer().second_moment();
    c.adam_steps = trainer_.optimizer().steps();
    c.dropout_state = trainer_.dropout_state();
    return c;
  }

  void save_checkpoint_or_warn() {
    if (checkpoint_dir_.empty()) return;
    if (Status s = write_checkpoint(checkpoint_dir_, snapshot()); !s) {
      warn("could not write the checkpoint: " + s.error().message);
    }
  }

  Error stopped(std::size_t batches) {
    std::string where = "epoch " + std::to_string(state_.epoch + 1) + "/" +
                        std::to_string(params_.epochs) + ", mini-batch " +
                        std::to_string(state_.batch + 1) + "/" + std::to_string(batches);
    if (checkpoint_dir_.empty()) {
      return make_error(ErrorCode::kDeadlineExceeded,
                        "training stopped by a signal at " + where +
                            "; no checkpoint directory, so no checkpoint was written");
    }
    if (Status s = write_checkpoint(checkpoint_dir_, snapshot()); !s) {
      return make_error(ErrorCode::kDeadlineExceeded,
                        "training stopped by a signal at " + where +
                            "; the checkpoint could not be written: " + s.error().message);
    }
    return make_error(ErrorCode::kDeadlineExceeded,
                      "training stopped by a signal at " + where + "; checkpoint written to " +
                          checkpoint_path(checkpoint_dir_).string() +
                          "; a run with the same checkpoint directory resumes from there");
  }

  const ImageSet& train_;
  const CnnTrainingParams& params_;
  fs::path checkpoint_dir_;
  const std::atomic<bool>* stop_;
  const CnnTrainingEvents& events_;
  CnnTrainer trainer_;
  PixelStats stats_;
  Matrix val_x_;
  std::vector<int> val_labels_;
  CnnCheckpoint state_;  // everything but the trainer's arrays, which snapshot() adds
  std::vector<float> batch_x_, augmented_;
  std::vector<int> batch_y_;
};

Status check_inputs(const ImageSet& train, const ImageSet& validation, const CnnTrainingParams& p) {
  if (train.count() == 0) {
    return make_error(ErrorCode::kInvalidArgument, "no training images");
  }
  if (train.size != p.arch.input_size ||
      (validation.count() > 0 && validation.size != train.size)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "image size does not match the network's input size");
  }
  if (p.epochs == 0 || p.batch_size == 0) {
    return make_error(ErrorCode::kInvalidArgument, "epochs and batch_size must be positive");
  }
  for (const ImageSet* set : {&train, &validation}) {
    for (int label : set->labels) {
      if (label < 0 || static_cast<std::size_t>(label) >= p.arch.num_classes) {
        return make_error(ErrorCode::kInvalidArgument,
                          "label " + std::to_string(label) + " is not a class of the network");
      }
    }
  }
  return Ok{};
}

}  // namespace

std::string training_fingerprint(const ImageSet& train, const ImageSet& validation,
                                 const CnnTrainingParams& p) {
  std::ostringstream config;
  config << std::setprecision(9);  // enough to tell any two floats apart
  const CnnArch& a = p.arch;
  const AugmentParams& g = p.augmentation;
  config << "mls-cnn-training-v1 " << a.input_size << ' ' << a.num_classes << ' '
         << a.conv1_channels << ' ' << a.conv2_channels << ' ' << a.hidden << ' ' << a.dropout
         << ' ' << p.epochs << ' ' << p.batch_size << ' ' << p.adam.learning_rate << ' '
         << p.adam.beta1 << ' ' << p.adam.beta2 << ' ' << p.adam.epsilon << ' ' << p.seed << ' '
         << p.augment << ' ' << g.max_shift << ' ' << g.max_rotation_degrees << ' '
         << g.max_brightness << ' ' << g.max_contrast << ' ' << p.early_stopping_patience;
  std::string all = config.str();
  for (const ImageSet* set : {&train, &validation}) {
    all += ' ' + std::to_string(set->size) + ' ' + sha256_hex(bytes_of(set->pixels)) + ' ' +
           sha256_hex(bytes_of(set->labels));
  }
  return sha256_hex(all);
}

Result<CnnTrainingResult> train_cnn(const ImageSet& train, const ImageSet& validation,
                                    const CnnTrainingParams& params, const fs::path& checkpoint_dir,
                                    const std::atomic<bool>* stop,
                                    const CnnTrainingEvents& events) {
  if (Status s = check_inputs(train, validation, params); !s) return s.error();
  auto trainer = CnnTrainer::create(params.arch, params.adam, params.seed);
  if (!trainer) return trainer.error();
  TrainingLoop loop(train, validation, params, checkpoint_dir, stop, events,
                    std::move(trainer).value());
  return loop.run();
}

}  // namespace mls::cnn
