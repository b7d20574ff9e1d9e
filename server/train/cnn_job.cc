#include "server/train/cnn_job.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "models/artifact/model_artifact.h"
#include "models/cnn/cnn_params.h"
#include "models/cnn/conv_net.h"
#include "models/data/image_dataset.h"
#include "models/eval/classification_metrics.h"
#include "server/train/sagemaker_config.h"

namespace mls::server {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct CnnData {
  ImageChannel training;
  ImageSet validation;
  std::string validation_source = "none";
};

void log_notes(const std::vector<std::string>& notes) {
  for (const std::string& note : notes)
    spdlog::warn("{}", note);
}

// Validation data, in order of preference: the validation channel, the training .npz files'
// val_* arrays, a seeded stratified share of the training images, none.
Result<CnnData> load_data(const fs::path& data_dir, const cnn::CnnJobParams& p) {
  CnnData data;
  auto training = load_image_training_channel(data_dir / "training", p.image_size);
  if (!training) {
    return make_error(training.error().code, "training channel: " + training.error().message);
  }
  data.training = std::move(training).value();
  log_notes(data.training.notes);
  std::error_code ec;
  if (fs::is_directory(data_dir / "validation", ec)) {
    auto v =
        load_image_validation_channel(data_dir / "validation", p.image_size, data.training.classes);
    if (!v) return make_error(v.error().code, "validation channel: " + v.error().message);
    log_notes(v->notes);
    data.validation = std::move(v->train);
    data.validation_source = "validation channel";
  } else if (data.training.val.count() > 0) {
    data.validation = std::move(data.training.val);
    data.validation_source = "val_* arrays";
  } else if (p.validation_fraction > 0.0) {
    data.validation =
        split_off_validation(data.training.train, p.validation_fraction, p.training.seed);
    data.validation_source = "held-out training images";
  }
  if (data.validation.count() == 0) data.validation_source = "none";
  return data;
}

// hyperparameter class_names, else the folder names, else the label values.
Result<std::vector<std::string>> class_names(const Hyperparameters& hp,
                                             const ImageClasses& classes) {
  std::vector<std::string> names;
  if (hp.count("class_names") != 0) {
    names = split_commas(hyperparameter_or(hp, "class_names"));
    if (names.size() != classes.labels.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "hyperparameter class_names has " + std::to_string(names.size()) +
                            " names for " + std::to_string(classes.labels.size()) + " classes");
    }
    return names;
  }
  if (classes.from_folders) return classes.names;
  for (double label : classes.labels)
    names.push_back(std::to_string(static_cast<long long>(label)));
  return names;
}

ClassificationScores score(const ConvNet& model, const ImageSet& set, PixelStats stats) {
  const Matrix x = normalised(set, stats);
  std::vector<float> proba(x.rows * model.num_classes());
  model.predict_proba(x.view(), proba);
  return score_classifier(set.labels, proba, model.num_classes());
}

void print_epoch(const cnn::EpochRecord& r, std::size_t epochs, double seconds) {
  std::printf("epoch=%zu/%zu train:loss=%.6f", r.epoch, epochs, r.train_loss);
  if (r.has_validation) {
    std::printf(" validation:loss=%.6f validation:accuracy=%.6f validation:auc=%.6f",
                r.validation_loss, r.validation_accuracy, r.validation_auc);
  }
  std::printf(" seconds=%.2f%s\n", seconds, r.improved ? " best" : "");
  std::fflush(stdout);
}

nlohmann::json history_json(const std::vector<cnn::EpochRecord>& history) {
  nlohmann::json out = nlohmann::json::array();
  for (const cnn::EpochRecord& r : history) {
    nlohmann::json e = {{"epoch", r.epoch}, {"train:loss", r.train_loss}};
    if (r.has_validation) {
      e["validation:loss"] = r.validation_loss;
      e["validation:accuracy"] = r.validation_accuracy;
      e["validation:auc"] = r.validation_auc;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace

Status train_cnn_job(const TrainOptions& options, const Hyperparameters& hp,
                     const fs::path& data_dir, const std::atomic<bool>& stop) {
  auto params = cnn::cnn_params_from(hp);
  if (!params) return params.error();
  const auto load_start = Clock::now();
  auto data = load_data(data_dir, *params);
  if (!data) return data.error();
  const ImageChannel& channel = data->training;
  auto names = class_names(hp, channel.classes);
  if (!names) return names.error();
  spdlog::info(
      "training data: {} images, {} classes, {}x{} pixels; validation: {} images ({}); "
      "read in {:.2f} s",
      channel.train.count(), channel.classes.labels.size(), params->image_size, params->image_size,
      data->validation.count(), data->validation_source, seconds_since(load_start));

  cnn::CnnTrainingParams& tp = params->training;
  tp.arch.num_classes = channel.classes.labels.size();
  spdlog::info(
      "training a CNN: conv {}-{}, hidden {}, dropout {}, {} epochs of batch {}, learning rate "
      "{}, augment={}, early stopping patience {}, seed {}, checkpoints in {}",
      tp.arch.conv1_channels, tp.arch.conv2_channels, tp.arch.hidden, tp.arch.dropout, tp.epochs,
      tp.batch_size, tp.adam.learning_rate, tp.augment, tp.early_stopping_patience, tp.seed,
      options.checkpoint_dir.empty() ? "(none)" : options.checkpoint_dir);
  cnn::CnnTrainingEvents events;
  events.on_epoch = [&](const cnn::EpochRecord& r, double seconds) {
    print_epoch(r, tp.epochs, seconds);
  };
  events.on_note = [](const std::string& text) { spdlog::info("{}", text); };
  events.on_warning = [](const std::string& text) { spdlog::warn("{}", text); };
  const auto train_start = Clock::now();
  auto result =
      cnn::train_cnn(channel.train, data->validation, tp, options.checkpoint_dir, &stop, events);
  if (!result) return result.error();
  std::printf("train:seconds=%.3f\n", seconds_since(train_start));

  ModelInfo info;
  info.model_type = "cnn";
  info.input_kind = InputKind::kImage;
  info.image =
      ImageInputSpec{params->image_size, result->normalisation.mean, result->normalisation.std};
  info.num_features = params->image_size * params->image_size;
  info.class_labels = channel.classes.labels;
  info.class_names = std::move(names).value();
  info.hyperparameters_json = hyperparameters_json(hp);
  auto scored = ConvNet::create(info, tp.arch, result->params);
  if (!scored) return scored.error();

  nlohmann::json metrics = nlohmann::json::object();
  print_scores("train", score(*scored, channel.train, result->normalisation), metrics);
  if (data->validation.count() > 0) {
    print_scores("validation", score(*scored, data->validation, result->normalisation), metrics);
  }
  metrics["validation_source"] = data->validation_source;
  metrics["epochs_trained"] = result->history.size();
  metrics["best_epoch"] = result->best_epoch;
  metrics["history"] = history_json(result->history);
  info.training_metrics_json = metrics.dump();
  auto model = ConvNet::create(std::move(info), tp.arch, std::move(result->params));
  if (!model) return model.error();
  if (auto s = save_model(options.model_dir, *model, hyperparameter_or(hp, "model_name")); !s) {
    return s.error();
  }
  spdlog::info("model written to {} (best epoch {} of {})", options.model_dir, result->best_epoch,
               result->history.size());
  // The model is safe on disk; a checkpoint left behind would only make the next job in this
  // directory redo the final step, or be ignored for a fingerprint mismatch.
  if (!options.checkpoint_dir.empty()) {
    if (Status s = cnn::remove_checkpoint(options.checkpoint_dir); !s) {
      spdlog::warn("{}", s.error().message);
    }
  }
  return Ok{};
}

}  // namespace mls::server
