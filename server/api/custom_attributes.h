#pragma once
// X-Amzn-SageMaker-Custom-Attributes: "key=value" pairs separated by ',' or ';'.

#include <optional>
#include <string>
#include <string_view>

namespace mls::server {

// The value of `key` (trimmed), if present; pairs without '=' and other keys are ignored.
std::optional<std::string> custom_attribute(std::string_view header, std::string_view key);

// X-Amzn-SageMaker-Target-Model names an artifact ("pulsar.tar.gz", "models/pulsar"); the model
// name is its last path segment without a .tar.gz / .tgz suffix.
std::string model_name_from_target(std::string_view target);

}  // namespace mls::server
