// mls: one executable, `serve` (the default) or `train`, as SageMaker runs `docker run IMAGE
// serve|train`; `healthcheck` probes a running server.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "server/app/cli.h"
#include "server/app/commands.h"
#include "server/app/logging.h"

int main(int argc, char** argv) {
  using mls::server::Command;
  try {
    const Command cmd = mls::server::parse_command_line(argc, argv);
    if (cmd.kind == Command::Kind::kExit) return cmd.exit_code;
    if (cmd.kind == Command::Kind::kHealthcheck)
      return mls::server::run_healthcheck(cmd.healthcheck);
    if (auto s = mls::server::init_logging(cmd.log_level, cmd.log_format); !s) {
      std::fprintf(stderr, "mls: %s\n", s.error().message.c_str());
      return 2;
    }
    return cmd.kind == Command::Kind::kTrain ? mls::server::run_train(cmd.train)
                                             : mls::server::run_serve(cmd.serve);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mls: fatal: %s\n", e.what());
    return 1;
  }
}
