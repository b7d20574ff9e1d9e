#pragma once
// Dynamic batching for one model: requests that arrive together run as one batch on the model's
// compute threads, so throughput under load approaches batch throughput, while a lone request runs
// at once (a thread that finds the queue non-empty takes everything waiting, up to max_batch, and
// only waits up to max_delay for more when that is configured). Image models batch images; a
// forest batches the rows of large tabular requests, whose per-row cost falls with the batch.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "models/core/matrix.h"
#include "models/core/model.h"
#include "models/core/status.h"

namespace mls::server {

struct BatchOptions {
  std::size_t max_batch = 32;  // rows (images) per model call; 1 turns batching off
  std::chrono::microseconds max_delay{0};
  unsigned threads = 1;
  std::size_t max_queued_rows = 4096;  // more waiting rows than this: submit refuses (fast 503)
  std::size_t max_queued_requests = static_cast<std::size_t>(-1);  // likewise, in requests
  std::string unit = "images";  // what a row is called in the busy message
  // Told the size of every batch run, in rows and in requests (for metrics); may be empty.
  std::function<void(const std::string& model, std::size_t rows, std::size_t requests)> on_batch;
};

class DynamicBatcher {
 public:
  using Clock = std::chrono::steady_clock;
  // Probabilities [rows, classes] of the submitted rows, or why there are none. Runs on a compute
  // thread; must not block.
  using Done = std::function<void(Result<std::vector<float>> proba, double model_seconds)>;

  // name: the model's name, for on_batch.
  DynamicBatcher(ModelPtr model, std::string name, const BatchOptions& options);
  // stop().
  ~DynamicBatcher();
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues rows of x for the model; done is called exactly once, later, unless this returns an
  // error (queue full: kFailedPrecondition), in which case it is never called.
  Status submit(Matrix x, Clock::time_point deadline, Done done);

  const BatchOptions& options() const { return options_; }

  // Fails what is still queued (kFailedPrecondition), lets running batches finish, joins the
  // threads. Idempotent; never call it from a Done callback.
  void stop();

 private:
  struct Job {
    Matrix x;
    Clock::time_point arrival;
    Clock::time_point deadline;
    Done done;
  };

  void run();
  // Takes the next batch off the queue (lock held); empty when stopping.
  std::vector<Job> take_batch(std::unique_lock<std::mutex>& lock);
  void compute(std::vector<Job>& batch);

  ModelPtr model_;
  std::string name_;
  BatchOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::size_t queued_rows_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace mls::server
