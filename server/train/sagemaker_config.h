#pragma once
// The SageMaker training job's configuration files under input/config/.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/status.h"
#include "models/eval/classification_metrics.h"
#include "models/forest/forest_params.h"

namespace mls::server {

// hyperparameters.json: an object whose values SageMaker sends as strings. Script-mode SDKs
// JSON-encode them a second time ("\"100\""), so a string that is itself a JSON string is
// unwrapped; numbers and booleans (from hand-written files) are taken as their JSON text. A missing
// file is an empty set. Errors: kInvalidArgument naming the file.
Result<Hyperparameters> read_hyperparameters(const std::filesystem::path& file);

// Any other config file (inputdataconfig.json, resourceconfig.json, checkpointconfig.json):
// std::nullopt when absent; an error naming the file when it is not a JSON object.
Result<std::optional<std::string>> read_json_config(const std::filesystem::path& file);

// A hyperparameter's value, or fallback when it is absent.
std::string hyperparameter_or(const Hyperparameters& hp, std::string_view key,
                              std::string fallback = {});

// "a, b,c" -> {"a", "b", "c"} (blanks around items trimmed).
std::vector<std::string> split_commas(const std::string& s);

// The hyperparameters as a JSON object, for the manifest.
std::string hyperparameters_json(const Hyperparameters& hp);

// Metric lines for SageMaker's MetricDefinitions regexes, one per score and each also stored in
// metrics: "<prefix>:accuracy=0.973000" (regex "<prefix>:accuracy=([0-9.]+)"), auc, f1, log_loss.
void print_scores(const std::string& prefix, const ClassificationScores& scores,
                  nlohmann::json& metrics);

}  // namespace mls::server
