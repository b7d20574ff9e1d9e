#include "server/batching/dynamic_batcher.h"

#include <algorithm>
#include <cstring>
#include <exception>

namespace mls::server {

DynamicBatcher::DynamicBatcher(ModelPtr model, std::string name, const BatchOptions& options)
    : model_(std::move(model)), name_(std::move(name)), options_(options) {
  options_.max_batch = std::max<std::size_t>(1, options_.max_batch);
  options_.threads = std::max(1u, options_.threads);
  for (unsigned i = 0; i < options_.threads; ++i)
    threads_.emplace_back([this] { run(); });
}

DynamicBatcher::~DynamicBatcher() {
  stop();
}

void DynamicBatcher::stop() {
  std::deque<Job> left;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    left.swap(queue_);
  }
  wake_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  for (Job& job : left) {
    job.done(make_error(ErrorCode::kFailedPrecondition, "server is shutting down"), 0);
  }
}

Status DynamicBatcher::submit(Matrix x, Clock::time_point deadline, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return make_error(ErrorCode::kFailedPrecondition, "server is shutting down");
    if (queued_rows_ != 0 && queued_rows_ + x.rows > options_.max_queued_rows) {
      return make_error(ErrorCode::kFailedPrecondition,
                        "server is busy: " + std::to_string(queued_rows_) + " " + options_.unit +
                            " are already waiting; retry shortly");
    }
    if (queue_.size() >= options_.max_queued_requests) {
      return make_error(ErrorCode::kFailedPrecondition,
                        "server is busy: " + std::to_string(queue_.size()) +
                            " requests are already waiting; retry shortly");
    }
    queued_rows_ += x.rows;
    queue_.push_back(Job{std::move(x), Clock::now(), deadline, std::move(done)});
  }
  wake_.notify_one();
  return Ok{};
}

std::vector<DynamicBatcher::Job> DynamicBatcher::take_batch(std::unique_lock<std::mutex>& lock) {
  wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  std::vector<Job> batch;
  if (stopping_) return batch;
  std::size_t rows = 0;
  auto take_waiting = [&] {
    // A job never splits; one bigger than max_batch runs alone (the model blocks it internally).
    while (!queue_.empty() &&
           (batch.empty() || rows + queue_.front().x.rows <= options_.max_batch)) {
      rows += queue_.front().x.rows;
      queued_rows_ -= queue_.front().x.rows;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  };
  take_waiting();
  if (options_.max_delay.count() > 0) {
    const auto until = batch.front().arrival + options_.max_delay;
    while (rows < options_.max_batch && !stopping_) {
      if (!wake_.wait_until(lock, until, [this] { return stopping_ || !queue_.empty(); })) break;
      take_waiting();
      if (!queue_.empty()) break;  // the next job would not fit
    }
  }
  return batch;
}

void DynamicBatcher::run() {
  for (;;) {
    std::vector<Job> batch;
    bool more = false;
    {
      std::unique_lock lock(mutex_);
      batch = take_batch(lock);
      more = !queue_.empty();
    }
    if (batch.empty()) return;
    if (more) wake_.notify_one();  // another thread can start on what did not fit
    compute(batch);
  }
}

void DynamicBatcher::compute(std::vector<Job>& batch) {
  const auto now = Clock::now();
  std::vector<Job*> live;
  for (Job& job : batch) {
    if (now > job.deadline) {
      job.done(make_error(ErrorCode::kDeadlineExceeded,
                          "request waited past its deadline for the model; retry shortly"),
               0);
    } else {
      live.push_back(&job);
    }
  }
  if (live.empty()) return;
  const std::size_t cols = live.front()->x.cols;
  const std::size_t classes = model_->num_classes();
  Matrix joined;
  const Matrix* x = &live.front()->x;
  if (live.size() > 1) {
    for (Job* job : live)
      joined.rows += job->x.rows;
    joined.cols = cols;
    joined.values.reserve(joined.rows * cols);
    for (Job* job : live)
      joined.values.insert(joined.values.end(), job->x.values.begin(), job->x.values.end());
    x = &joined;
  }
  std::vector<float> proba(x->rows * classes);
  const auto start = Clock::now();
  try {
    model_->predict_proba(x->view(), proba);
  } catch (const std::exception& e) {
    for (Job* job : live)
      job->done(make_error(ErrorCode::kInternal, std::string("inference failed: ") + e.what()), 0);
    return;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (options_.on_batch) options_.on_batch(name_, x->rows, live.size());
  std::size_t offset = 0;
  for (Job* job : live) {
    const std::size_t n = job->x.rows * classes;
    std::vector<float> own(proba.begin() + static_cast<std::ptrdiff_t>(offset),
                           proba.begin() + static_cast<std::ptrdiff_t>(offset + n));
    offset += n;
    job->done(std::move(own), seconds);
  }
}

}  // namespace mls::server
