#include "server/app/commands.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "models/artifact/model_artifact.h"
#include "server/api/router.h"
#include "server/http/http_server.h"
#include "server/train/train_job.h"

namespace mls::server {
namespace {

std::atomic<bool> g_train_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_train_signal(int) {
  g_train_stop.store(true);
}

}  // namespace

int run_serve(const ServeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ModelRegistry registry;
  ServerMetrics metrics;
  Service service{registry, metrics, options};
  Router router(service);
  HttpServer server(options, router);
  if (auto s = server.listen(); !s) {
    spdlog::error("{}", s.error().message);
    return 1;
  }
  spdlog::info(
      "mls {} serve: listening on {}:{}, models from {}, {} I/O + {} inference threads, body limit "
      "{} bytes",
      product_version(), options.host, server.port(), options.model_dir,
      options.io_threads != 0 ? options.io_threads : default_thread_count(),
      options.workers != 0 ? options.workers : default_thread_count(), options.max_body_bytes);
  if (options.batch_mode) spdlog::info("batch transform mode (SAGEMAKER_BATCH)");
  // Load in the background: /ping answers 503 "loading" meanwhile instead of refusing connections.
  std::thread loader([&] {
    registry.load_all(options.model_dir);
    auto snap = registry.snapshot();
    for (const LoadedModel& m : snap->models)
      metrics.set_model_state(m.name, true, m.load_seconds);
    for (const FailedModel& f : snap->failures)
      metrics.set_model_state(f.name, false, 0);
    if (snap->state == RegistrySnapshot::State::kReady) {
      spdlog::info(
          "ready in {:.1f} ms: {}",
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count(),
          snap->names());
    }
  });
  server.run();
  loader.join();
  spdlog::info("stopped");
  return 0;
}

int run_train(const TrainOptions& options) {
  std::signal(SIGTERM, on_train_signal);
  std::signal(SIGINT, on_train_signal);
  return run_train_job(options, g_train_stop);
}

}  // namespace mls::server
