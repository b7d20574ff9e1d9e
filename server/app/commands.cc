#include "server/app/commands.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <stop_token>
#include <thread>

#include "models/artifact/model_artifact.h"
#include "server/api/router.h"
#include "server/http/http_server.h"
#include "server/metrics/emf_reporter.h"
#include "server/train/train_job.h"

namespace mls::server {
namespace {

std::atomic<bool> g_train_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_train_signal(int) {
  g_train_stop.store(true);
}

// One EMF line per interval, straight to stdout: CloudWatch reads EMF only from log events that are
// pure JSON, so these bypass the logger's prefix.
void write_emf_lines(std::stop_token stop, ServerMetrics& metrics, std::chrono::seconds interval) {
  EmfReporter reporter(metrics);
  std::mutex mutex;
  std::condition_variable_any wake;
  bool stopping = false;
  while (!stopping) {
    std::unique_lock lock(mutex);
    stopping = wake.wait_for(lock, stop, interval, [] { return false; }) || stop.stop_requested();
    const std::string line = reporter.next_line() + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
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
  if (options.multi_model) {
    spdlog::info("multi-model endpoint: /models API on, models from under {}, memory budget {}",
                 options.multi_model_root,
                 options.model_memory_budget_bytes == 0
                     ? std::string("none")
                     : std::to_string(options.model_memory_budget_bytes >> 20) + " MiB");
  }
  // Load in the background: /ping answers 503 "loading" meanwhile instead of refusing connections.
  std::thread loader([&] {
    BatchingOptions batching;
    BatchOptions& images = batching.images;
    images.max_batch = options.max_batch_size;
    images.max_delay = options.max_batch_delay;
    images.threads = options.workers != 0 ? options.workers : default_thread_count();
    images.max_queued_rows = std::max(options.max_queue * options.max_batch_size, std::size_t{1});
    images.on_batch = [&metrics](const std::string& model, std::size_t count, std::size_t) {
      metrics.observe_batch(model, count);
    };
    if (options.max_batch_rows > 0) {
      // Requests are what --max-queue counts: a request's rows are bounded by --max-rows already.
      BatchOptions rows = images;
      rows.max_batch = options.max_batch_rows;
      rows.max_queued_rows = static_cast<std::size_t>(-1);
      rows.max_queued_requests = std::max(options.max_queue, std::size_t{1});
      rows.unit = "rows";
      rows.on_batch = [&metrics](const std::string& model, std::size_t, std::size_t requests) {
        metrics.observe_batch_requests(model, requests);
      };
      batching.rows = rows;
    }
    registry.load_all(options.model_dir, batching, options.multi_model);
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
  std::jthread emf;
  if (options.emf_interval.count() > 0)
    emf = std::jthread(write_emf_lines, std::ref(metrics), options.emf_interval);
  server.run();
  emf = {};  // stops and joins, after one last line
  loader.join();
  registry.stop();  // before the router and metrics its last answers would touch go away
  spdlog::info("stopped");
  return 0;
}

int run_train(const TrainOptions& options) {
  std::signal(SIGTERM, on_train_signal);
  std::signal(SIGINT, on_train_signal);
  return run_train_job(options, g_train_stop);
}

}  // namespace mls::server
