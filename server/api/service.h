#pragma once
// What request handlers may touch: the models, the metrics and the options. Nothing else.

#include "server/app/serve_options.h"
#include "server/metrics/server_metrics.h"
#include "server/registry/model_registry.h"

namespace mls::server {

struct Service {
  ModelRegistry& registry;
  ServerMetrics& metrics;
  const ServeOptions& options;
};

}  // namespace mls::server
