#include "server/train/train_job.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "models/artifact/artifact_files.h"
#include "models/artifact/model_artifact.h"
#include "models/cnn/cnn_params.h"
#include "models/data/tabular_loader.h"
#include "models/eval/classification_metrics.h"
#include "models/forest/forest_trainer.h"
#include "server/train/cnn_job.h"
#include "server/train/sagemaker_config.h"

namespace mls::server {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Keys every model type understands; the model's own keys come from the models library.
const std::vector<std::string_view> kJobKeys = {"model_type", "label_column", "model_name",
                                                "class_names"};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Logs the keys neither the job nor the chosen model reads.
void report_unknown_keys(const Hyperparameters& hp, const std::vector<std::string_view>& model) {
  for (const auto& [key, value] : hp) {
    if (std::find(kJobKeys.begin(), kJobKeys.end(), key) != kJobKeys.end()) continue;
    if (std::find(model.begin(), model.end(), key) != model.end()) continue;
    if (key.starts_with("sagemaker_") || key.starts_with("_")) continue;  // set by SageMaker itself
    spdlog::warn("ignoring unknown hyperparameter {}={}", key, value);
  }
}

// What the data in the training channel looks like: "image" when any file is an .npz, .npy, PNG
// or JPEG, else "csv" when there are files, else "" (no files).
std::string sniff_channel(const fs::path& dir) {
  const std::vector<fs::path> files = list_data_files(dir);
  for (const fs::path& file : files) {
    std::string ext = file.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".npz" || ext == ".npy" || ext == ".png" || ext == ".jpg" || ext == ".jpeg")
      return "image";
  }
  return files.empty() ? "" : "csv";
}

ClassificationScores score(const Model& model, const TabularDataset& data) {
  std::vector<float> proba(data.x.rows * model.num_classes());
  model.predict_proba(data.x.view(), proba);
  return score_classifier(data.y, proba, model.num_classes());
}

ClassificationScores score_out_of_bag(const ForestTrainResult& result, const TabularDataset& data) {
  const std::size_t k = data.class_labels.size();
  std::vector<int> labels;
  std::vector<float> proba;
  for (std::size_t r = 0; r < data.x.rows; ++r) {
    if (!result.has_oob[r]) continue;
    labels.push_back(data.y[r]);
    proba.insert(proba.end(), result.oob_proba.begin() + static_cast<std::ptrdiff_t>(r * k),
                 result.oob_proba.begin() + static_cast<std::ptrdiff_t>((r + 1) * k));
  }
  return score_classifier(labels, proba, k);
}

Status train_forest_job(const TrainOptions& options, const Hyperparameters& hp,
                        const fs::path& data_dir, const std::atomic<bool>& stop) {
  auto params = forest_params_from(hp);
  if (!params) return params.error();
  auto label = parse_label_column(hyperparameter_or(hp, "label_column", "last"));
  if (!label) return label.error();

  const auto load_start = Clock::now();
  auto train = load_tabular_channel(data_dir / "training", *label);
  if (!train) return make_error(train.error().code, "training channel: " + train.error().message);
  spdlog::info("training data: {} rows, {} features, {} classes, read in {:.2f} s", train->x.rows,
               train->x.cols, train->class_labels.size(), seconds_since(load_start));
  std::optional<TabularDataset> validation;
  std::error_code ec;
  if (fs::is_directory(data_dir / "validation", ec)) {
    auto v = load_tabular_channel(data_dir / "validation", *label, &train->class_labels);
    if (!v) return make_error(v.error().code, "validation channel: " + v.error().message);
    if (v->x.cols != train->x.cols) {
      return make_error(ErrorCode::kInvalidArgument,
                        "validation channel has " + std::to_string(v->x.cols) +
                            " features, training has " + std::to_string(train->x.cols));
    }
    validation = std::move(v).value();
  }

  ModelInfo info;
  if (hp.count("class_names") != 0)
    info.class_names = split_commas(hyperparameter_or(hp, "class_names"));
  if (!info.class_names.empty() && info.class_names.size() != train->class_labels.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "hyperparameter class_names has " + std::to_string(info.class_names.size()) +
                          " names for " + std::to_string(train->class_labels.size()) + " classes");
  }
  info.hyperparameters_json = hyperparameters_json(hp);

  spdlog::info("training a random forest: {} trees, max_features={} of {}, bootstrap={}, seed={}",
               params->n_estimators, params->features_per_split(train->x.cols), train->x.cols,
               params->bootstrap, params->seed);
  const auto train_start = Clock::now();
  std::size_t next_report = 1;
  auto progress = [&](std::size_t done, std::size_t total) {
    if (done * 10 < next_report * total && done != total) return;
    next_report = done * 10 / total + 1;
    spdlog::info("forest: {}/{} trees ({:.1f} s)", done, total, seconds_since(train_start));
  };
  auto result = train_forest(*train, *params, std::move(info), &stop, progress);
  if (!result) {
    if (result.error().code == ErrorCode::kDeadlineExceeded) {
      return make_error(ErrorCode::kDeadlineExceeded,
                        "training stopped by a signal before it finished; no model was written");
    }
    return result.error();
  }
  std::printf("train:seconds=%.3f\n", seconds_since(train_start));

  nlohmann::json metrics = nlohmann::json::object();
  print_scores("train", score(result->forest, *train), metrics);
  if (validation) {
    print_scores("validation", score(result->forest, *validation), metrics);
  } else if (params->bootstrap) {
    spdlog::info("no validation channel: validation metrics are out-of-bag estimates");
    print_scores("validation", score_out_of_bag(*result, *train), metrics);
  }
  metrics["validation_source"] =
      validation ? "validation channel" : (params->bootstrap ? "out-of-bag" : "none");

  // The metrics go into the manifest, so rebuild the model info with them.
  ModelInfo final_info = result->forest.info();
  final_info.training_metrics_json = metrics.dump();
  auto forest = RandomForest::create(std::move(final_info), result->forest.arrays());
  if (!forest) return forest.error();
  if (auto s = save_model(options.model_dir, *forest, hyperparameter_or(hp, "model_name")); !s)
    return s.error();
  spdlog::info("model written to {} ({} trees, {} nodes)", options.model_dir, forest->num_trees(),
               forest->num_nodes());
  return Ok{};
}

void write_failure(const TrainOptions& options, const std::string& reason) {
  std::error_code ec;
  fs::create_directories(options.output_dir, ec);
  if (auto s = write_file_atomically(fs::path(options.output_dir) / "failure", reason + "\n"); !s) {
    spdlog::error("could not write the failure file: {}", s.error().message);
  }
}

// SageMaker's CheckpointConfig.LocalPath, unless a flag or SM_CHECKPOINT_DIR chose the directory.
TrainOptions with_checkpoint_config(TrainOptions options, const std::string& config_json) {
  if (options.checkpoint_dir_given) return options;
  const auto j = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("LocalPath") && j["LocalPath"].is_string() &&
      !j["LocalPath"].get<std::string>().empty()) {
    options.checkpoint_dir = j["LocalPath"].get<std::string>();
    spdlog::info("checkpoints in {} (checkpointconfig.json LocalPath)", options.checkpoint_dir);
  }
  return options;
}

Status run(TrainOptions options, const std::atomic<bool>& stop) {
  const fs::path config = fs::path(options.input_dir) / "config";
  const fs::path data = fs::path(options.input_dir) / "data";
  auto hp = read_hyperparameters(config / "hyperparameters.json");
  if (!hp) return hp.error();
  for (const char* name :
       {"inputdataconfig.json", "resourceconfig.json", "checkpointconfig.json"}) {
    auto cfg = read_json_config(config / name);
    if (!cfg) return cfg.error();
    if (*cfg) spdlog::debug("{}: {}", name, **cfg);
    if (*cfg && std::string_view(name) == "checkpointconfig.json")
      options = with_checkpoint_config(std::move(options), **cfg);
  }
  std::error_code ec;
  if (!fs::is_directory(data / "training", ec)) {
    return make_error(ErrorCode::kNotFound, "no training channel: expected data files in " +
                                                (data / "training").string());
  }
  std::string model_type = hyperparameter_or(*hp, "model_type");
  if (model_type.empty()) {
    const std::string kind = sniff_channel(data / "training");
    if (kind.empty())
      return make_error(ErrorCode::kNotFound,
                        "training channel " + (data / "training").string() + " has no data files");
    model_type = kind == "csv" ? "forest" : "cnn";
    spdlog::info("model_type not given: the training data looks like {}, so training a {}", kind,
                 model_type);
  }
  if (model_type == "forest") {
    report_unknown_keys(*hp, forest_hyperparameter_names());
    return train_forest_job(options, *hp, data, stop);
  }
  if (model_type == "cnn") {
    report_unknown_keys(*hp, cnn::cnn_hyperparameter_names());
    return train_cnn_job(options, *hp, data, stop);
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "hyperparameter model_type='" + model_type + "': expected forest or cnn");
}

}  // namespace

int run_train_job(const TrainOptions& options, const std::atomic<bool>& stop) {
  spdlog::info("mls {} train: input {}, model {}, output {}", product_version(), options.input_dir,
               options.model_dir, options.output_dir);
  const auto start = Clock::now();
  Status status = Ok{};
  try {
    status = run(options, stop);
  } catch (const std::exception& e) {
    status = make_error(ErrorCode::kInternal, std::string("unexpected failure: ") + e.what());
  }
  if (!status) {
    spdlog::error("training failed: {}", status.error().message);
    write_failure(options, status.error().message);
    return 1;
  }
  // A failure file left by an earlier run in the same output dir would contradict this success.
  std::error_code ec;
  fs::remove(fs::path(options.output_dir) / "failure", ec);
  spdlog::info("training finished in {:.2f} s", seconds_since(start));
  return 0;
}

}  // namespace mls::server
