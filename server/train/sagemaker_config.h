#pragma once
// The SageMaker training job's configuration files under input/config/.

#include <filesystem>
#include <optional>
#include <string>

#include "models/core/status.h"
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

}  // namespace mls::server
