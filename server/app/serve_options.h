#pragma once
// Everything `serve` can be told, resolved from flags, then SageMaker's environment, then defaults.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mls::server {

enum class BadRecordPolicy { kFail, kPlaceholder };

struct ServeOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8080;                // SAGEMAKER_BIND_TO_PORT
  std::string model_dir = "/opt/ml/model";  // SM_MODEL_DIR
  unsigned io_threads = 0;                  // 0: one per core
  unsigned workers = 0;                     // inference threads; 0: one per core
  std::size_t max_body_bytes = 6u << 20;    // SAGEMAKER_MAX_PAYLOAD_IN_MB
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_queue = 256;              // requests waiting for an inference thread
  std::size_t max_rows = 1'000'000;         // rows in one request
  std::size_t inline_max_bytes = 8u << 10;  // smaller bodies are scored on the I/O thread
  std::size_t max_batch_size = 32;  // images per CNN call under dynamic batching; 1: no batching
  std::chrono::microseconds max_batch_delay{0};  // 0: never hold a request back for company
  // Rows per forest call when large tabular requests (bodies over inline_max_bytes) batch; 0: they
  // do not, each runs alone on the inference thread that decoded it.
  std::size_t max_batch_rows = 16384;
  std::size_t max_images = 100'000;                   // images in one request
  std::size_t max_image_pixels = 40'000'000;          // per image, checked before decoding
  std::chrono::milliseconds request_timeout{55'000};  // under SageMaker's 60 s
  std::chrono::milliseconds idle_timeout{60'000};     // keep-alive connections with no request
  std::chrono::milliseconds drain_timeout{25'000};    // SIGTERM to exit, under the 30 s to SIGKILL
  std::size_t max_connections = 10'000;
  std::size_t max_json_depth = 64;  // deepest nesting of arrays/objects in a JSON body
  // TLS (MLS_TLS_CERT, MLS_TLS_KEY): both set, the port speaks only HTTPS (TLS 1.2 and 1.3).
  std::string tls_cert;  // PEM certificate chain, server certificate first
  std::string tls_key;   // PEM private key
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  bool batch_mode = false;  // SAGEMAKER_BATCH
  // Multi-model endpoint (SAGEMAKER_MULTI_MODEL): the /models API loads and unloads models found
  // under multi_model_root; 0 bytes means no memory budget (no 507).
  bool multi_model = false;
  std::string multi_model_root = "/opt/ml/models";
  std::uint64_t model_memory_budget_bytes = 0;
  BadRecordPolicy bad_record = BadRecordPolicy::kFail;
  bool log_requests = false;
  std::chrono::seconds emf_interval{0};  // 0: no CloudWatch EMF summary lines
};

struct TrainOptions {
  std::string input_dir = "/opt/ml/input";    // SM_INPUT_DIR
  std::string model_dir = "/opt/ml/model";    // SM_MODEL_DIR
  std::string output_dir = "/opt/ml/output";  // SM_OUTPUT_DIR
  std::string checkpoint_dir = "/opt/ml/checkpoints";
  // Set when --checkpoint-dir or SM_CHECKPOINT_DIR chose checkpoint_dir; otherwise the LocalPath of
  // input/config/checkpointconfig.json (SageMaker's CheckpointConfig) wins over the default.
  bool checkpoint_dir_given = false;
};

}  // namespace mls::server
