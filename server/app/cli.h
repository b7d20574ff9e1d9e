#pragma once
// Command-line parsing: `mls [serve|train] [flags]`, flags falling back to SageMaker's variables.

#include <optional>
#include <string>

#include "server/app/healthcheck.h"
#include "server/app/serve_options.h"

namespace mls::server {

struct Command {
  enum class Kind { kServe, kTrain, kHealthcheck, kExit };
  Kind kind = Kind::kServe;
  int exit_code = 0;  // for kExit (--help, --version, a usage error)
  ServeOptions serve;
  TrainOptions train;
  HealthcheckOptions healthcheck;
  std::string log_level = "info";
  std::string log_format = "plain";
};

// Parses argv. --help and usage errors print to stdout/stderr and return kExit.
Command parse_command_line(int argc, char** argv);

}  // namespace mls::server
