#include "server/app/cli.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "models/artifact/model_artifact.h"

namespace mls::server {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

void add_logging_flags(CLI::App& app, Command& cmd) {
  app.add_option("--log-level", cmd.log_level, "trace, debug, info, warn, error or off")
      ->envname("LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--log-format", cmd.log_format, "plain or json (one JSON object per line)")
      ->envname("LOG_FORMAT")
      ->check(CLI::IsMember({"plain", "json"}))
      ->capture_default_str();
}

// SageMaker passes booleans as "true"/"True"; anything else is false.
bool env_true(const char* name) {
  const std::string v = env(name);
  return v == "true" || v == "True" || v == "TRUE" || v == "1";
}

void add_serve_flags(CLI::App& serve, Command& cmd, unsigned& max_payload_mb, long long& timeout_s,
                     long long& idle_s, long long& drain_s, long long& emf_s,
                     long long& batch_delay_us, std::uint64_t& memory_budget_mb,
                     std::string& bad_record) {
  ServeOptions& o = cmd.serve;
  serve.add_option("-p,--port", o.port, "TCP port to listen on")
      ->envname("SAGEMAKER_BIND_TO_PORT")
      ->capture_default_str();
  serve.add_option("--host", o.host, "address to listen on")->capture_default_str();
  serve.add_option("-m,--model-dir", o.model_dir, "one model, or one model per sub-directory")
      ->envname("SM_MODEL_DIR")
      ->capture_default_str();
  serve.add_option("--io-threads", o.io_threads, "threads for network I/O (0: one per core)")
      ->capture_default_str();
  serve.add_option("--workers", o.workers, "inference threads (0: one per core)")
      ->envname("SAGEMAKER_MODEL_SERVER_WORKERS")
      ->capture_default_str();
  serve.add_option("--max-payload-mb", max_payload_mb, "largest request body in MiB (1-100)")
      ->envname("SAGEMAKER_MAX_PAYLOAD_IN_MB")
      ->check(CLI::Range(1u, 100u))
      ->capture_default_str();
  serve.add_option("--max-header-bytes", o.max_header_bytes, "largest request header block")
      ->capture_default_str();
  serve.add_option("--max-rows", o.max_rows, "most rows in one request")->capture_default_str();
  serve.add_option("--max-images", o.max_images, "most images in one request")
      ->capture_default_str();
  serve
      .add_option("--max-image-pixels", o.max_image_pixels,
                  "largest image (width x height) accepted; checked before decoding")
      ->capture_default_str();
  serve
      .add_option("--max-batch-size", o.max_batch_size,
                  "dynamic batching: most images run through the CNN in one call (1: off)")
      ->envname("MLS_MAX_BATCH_SIZE")
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}))
      ->capture_default_str();
  serve
      .add_option("--max-batch-rows", o.max_batch_rows,
                  "dynamic batching: most rows of large tabular requests (over --inline-max-bytes) "
                  "run through the forest in one call (0: off)")
      ->envname("MLS_MAX_BATCH_ROWS")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1'000'000}))
      ->capture_default_str();
  serve
      .add_option("--max-batch-delay-us", batch_delay_us,
                  "dynamic batching: microseconds a request may wait for others to join its "
                  "batch (0: none; requests that queue while the model is busy batch anyway)")
      ->envname("MLS_MAX_BATCH_DELAY_US")
      ->check(CLI::Range(0LL, 1'000'000LL))
      ->capture_default_str();
  serve
      .add_option("--max-queue", o.max_queue,
                  "requests allowed to wait for an inference thread; more get a fast 503")
      ->capture_default_str();
  serve
      .add_option("--max-connections", o.max_connections,
                  "open connections allowed; one more is answered 503 and closed")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  serve
      .add_option("--max-json-depth", o.max_json_depth,
                  "deepest nesting of arrays and objects in a JSON body (deeper: 400)")
      ->check(CLI::Range(std::size_t{2}, std::size_t{100'000}))
      ->capture_default_str();
  serve
      .add_option("--tls-cert", o.tls_cert,
                  "PEM certificate chain: with --tls-key, the port speaks only HTTPS (TLS 1.2+)")
      ->envname("MLS_TLS_CERT");
  serve.add_option("--tls-key", o.tls_key, "PEM private key for --tls-cert")
      ->envname("MLS_TLS_KEY");
  serve
      .add_option(
          "--inline-max-bytes", o.inline_max_bytes,
          "bodies up to this size are scored on the I/O thread, larger ones on an inference thread")
      ->capture_default_str();
  serve
      .add_option("--request-timeout", timeout_s,
                  "seconds a request may take to arrive, queue and run")
      ->envname("SAGEMAKER_MODEL_SERVER_TIMEOUT")
      ->check(CLI::Range(1LL, 3600LL))
      ->capture_default_str();
  serve.add_option("--idle-timeout", idle_s, "seconds an idle keep-alive connection stays open")
      ->check(CLI::Range(1LL, 86400LL))
      ->capture_default_str();
  serve
      .add_option("--drain-timeout", drain_s, "seconds to finish in-flight requests after SIGTERM")
      ->check(CLI::Range(0LL, 3600LL))
      ->capture_default_str();
  serve
      .add_option(
          "--bad-record", bad_record,
          "fail: one bad row fails the request (400); placeholder: it gets an error line instead")
      ->check(CLI::IsMember({"fail", "placeholder"}))
      ->capture_default_str();
  serve.add_flag("--log-requests", o.log_requests, "log one line per request");
  serve.add_flag("--multi-model", o.multi_model,
                 "multi-model endpoint: enable the /models API (also SAGEMAKER_MULTI_MODEL=true)");
  serve
      .add_option("--multi-model-root", o.multi_model_root,
                  "the /models API loads models only from under this directory")
      ->capture_default_str();
  serve
      .add_option("--model-memory-budget-mb", memory_budget_mb,
                  "multi-model endpoint: loading past this many MiB of models is a 507 (0: none)")
      ->capture_default_str();
  serve
      .add_option(
          "--emf-interval", emf_s,
          "every N seconds, print a CloudWatch Embedded Metric Format line (requests, errors, "
          "latency percentiles of /invocations); 0: off")
      ->check(CLI::Range(0LL, 86400LL))
      ->capture_default_str();
  add_logging_flags(serve, cmd);
}

CLI::Option* add_train_flags(CLI::App& train, Command& cmd) {
  TrainOptions& o = cmd.train;
  train.add_option("--input-dir", o.input_dir, "holds config/ and data/<channel>/")
      ->envname("SM_INPUT_DIR")
      ->capture_default_str();
  train.add_option("--model-dir", o.model_dir, "where the model is written")
      ->envname("SM_MODEL_DIR")
      ->capture_default_str();
  train.add_option("--output-dir", o.output_dir, "where 'failure' is written on error")
      ->envname("SM_OUTPUT_DIR")
      ->capture_default_str();
  CLI::Option* checkpoint_dir =
      train
          .add_option(
              "--checkpoint-dir", o.checkpoint_dir,
              "checkpoints for resuming an interrupted job (default: checkpointconfig.json's "
              "LocalPath, else /opt/ml/checkpoints)")
          ->envname("SM_CHECKPOINT_DIR")
          ->capture_default_str();
  add_logging_flags(train, cmd);
  return checkpoint_dir;
}

// `serve` and `train` may also be the program's own name (symlinks on PATH, as SageMaker's
// scikit-learn example expects): `serve --port 8080` means `mls serve --port 8080`.
std::vector<std::string> arguments(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string self = std::filesystem::path(argv[0]).filename().string();
  if ((self == "serve" || self == "train") && (args.empty() || args.front() != self)) {
    args.insert(args.begin(), self);
  }
  if (args.empty()) args.push_back("serve");  // what SageMaker means when it passes nothing
  return args;
}

}  // namespace

Command parse_command_line(int argc, char** argv) {
  Command cmd;
  CLI::App app{
      "mls: trains and serves random-forest and CNN models under the Amazon SageMaker container "
      "contract.\n"
      "With no subcommand, runs `serve`.",
      "mls"};
  app.set_version_flag("--version", "mls " + std::string(product_version()));
  app.require_subcommand(0, 1);
  app.fallthrough(false);
  unsigned max_payload_mb = 6;
  long long timeout_s = 55, idle_s = 60, drain_s = 25, emf_s = 0, batch_delay_us = 0;
  std::string bad_record = "fail";
  std::uint64_t memory_budget_mb = 0;
  CLI::App* serve =
      app.add_subcommand("serve", "serve models over HTTP (SageMaker hosting and batch transform)");
  add_serve_flags(*serve, cmd, max_payload_mb, timeout_s, idle_s, drain_s, emf_s, batch_delay_us,
                  memory_budget_mb, bad_record);
  CLI::App* train = app.add_subcommand("train", "train a model (SageMaker training job)");
  CLI::Option* checkpoint_dir = add_train_flags(*train, cmd);

  CLI::App* health = app.add_subcommand(
      "healthcheck", "GET /ping on the local server; exit 0 on 200 (for Docker HEALTHCHECK)");
  long long health_timeout_ms = 2000;
  health->add_option("-p,--port", cmd.healthcheck.port, "the server's port")
      ->envname("SAGEMAKER_BIND_TO_PORT")
      ->capture_default_str();
  health->add_option("--host", cmd.healthcheck.host, "the server's address")->capture_default_str();
  health->add_flag("--tls", cmd.healthcheck.tls,
                   "use HTTPS, certificate not verified (implied when MLS_TLS_CERT is set)");
  health->add_option("--timeout-ms", health_timeout_ms, "give up after this long")
      ->check(CLI::Range(1LL, 60'000LL))
      ->capture_default_str();

  std::vector<std::string> args = arguments(argc, argv);
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    cmd.kind = Command::Kind::kExit;
    cmd.exit_code = app.exit(e);
    if (cmd.exit_code != 0) std::fprintf(stderr, "\n%s", app.help().c_str());
    return cmd;
  }
  if (health->parsed()) {
    cmd.kind = Command::Kind::kHealthcheck;
    cmd.healthcheck.timeout = std::chrono::milliseconds(health_timeout_ms);
    cmd.healthcheck.tls = cmd.healthcheck.tls || !env("MLS_TLS_CERT").empty();
    return cmd;
  }
  if (train->parsed()) {
    cmd.kind = Command::Kind::kTrain;
    cmd.train.checkpoint_dir_given =
        checkpoint_dir->count() > 0 || !env("SM_CHECKPOINT_DIR").empty();
    return cmd;
  }
  cmd.kind = Command::Kind::kServe;
  ServeOptions& o = cmd.serve;
  o.max_body_bytes = static_cast<std::size_t>(max_payload_mb) << 20;
  o.request_timeout = std::chrono::seconds(timeout_s);
  o.idle_timeout = std::chrono::seconds(idle_s);
  o.drain_timeout = std::chrono::seconds(drain_s);
  o.emf_interval = std::chrono::seconds(emf_s);
  o.max_batch_delay = std::chrono::microseconds(batch_delay_us);
  o.bad_record =
      bad_record == "placeholder" ? BadRecordPolicy::kPlaceholder : BadRecordPolicy::kFail;
  o.batch_mode = env_true("SAGEMAKER_BATCH");
  o.multi_model = o.multi_model || env_true("SAGEMAKER_MULTI_MODEL");
  o.model_memory_budget_bytes = memory_budget_mb << 20;
  return cmd;
}

}  // namespace mls::server
