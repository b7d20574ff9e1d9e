#pragma once
// The two things the executable does. Each returns the process exit code.

#include "server/app/serve_options.h"

namespace mls::server {

int run_serve(const ServeOptions& options);
int run_train(const TrainOptions& options);

}  // namespace mls::server
