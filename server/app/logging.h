#pragma once
// One stdout logger for the whole process (SageMaker ships stdout/stderr to CloudWatch).

#include <string>

#include "models/core/status.h"

namespace mls::server {

// level: trace|debug|info|warn|error|off; format: plain|json. Errors: kInvalidArgument.
Status init_logging(const std::string& level, const std::string& format);

}  // namespace mls::server
