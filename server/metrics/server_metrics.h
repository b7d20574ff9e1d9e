#pragma once
// The Prometheus metrics of `serve`: created once, updated lock-light on the request path,
// rendered as text exposition for GET /metrics.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mls::server {

class ServerMetrics {
 public:
  ServerMetrics();

  // One finished HTTP request. route: the matched route pattern ("/invocations", "other").
  void observe_request(std::string_view route, std::string_view model, unsigned status,
                       double seconds);
  // One model call: wall time of predict alone, and rows (or images) in the request.
  void observe_inference(std::string_view model, double seconds, std::size_t rows);
  // One batch run by a model's dynamic batcher: how many images it held.
  void observe_batch(const std::string& model, std::size_t images);
  // One batch of large tabular requests run together: how many requests it held.
  void observe_batch_requests(const std::string& model, std::size_t requests);
  void set_model_state(const std::string& model, bool loaded, double load_seconds);
  // Requests read and not yet answered. A plain atomic per request, copied into the
  // mls_http_requests_in_flight gauge when metrics are read: the gauge's own update is a
  // compare-and-swap loop on a double, twice per request on the hot path.
  void request_started() { in_flight_count_.fetch_add(1, std::memory_order_relaxed); }
  void request_finished() { in_flight_count_.fetch_sub(1, std::memory_order_relaxed); }
  prometheus::Gauge& connections_open() { return *connections_; }

  // Refreshes the process gauges (memory, CPU, descriptors) and renders every metric.
  std::string render();
  // Every metric's current value, for summaries other than the text exposition.
  std::vector<prometheus::MetricFamily> collect() const {
    sync_in_flight();
    return registry_->Collect();
  }

 private:
  struct InferenceSeries {
    prometheus::Histogram* seconds;
    prometheus::Histogram* rows;
  };
  prometheus::Histogram& request_latency(std::string_view route);
  // One observation in a histogram labelled by model, its series looked up through cache.
  void observe_per_model(prometheus::Family<prometheus::Histogram>& family,
                         std::unordered_map<std::string, prometheus::Histogram*>& cache,
                         const prometheus::Histogram::BucketBoundaries& buckets,
                         const std::string& model, double value);
  void update_process_metrics();
  void sync_in_flight() const {
    in_flight_->Set(static_cast<double>(in_flight_count_.load(std::memory_order_relaxed)));
  }

  std::uint64_t serial_;  // unique per instance: what the per-thread series caches match on
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Family<prometheus::Histogram>& inference_seconds_;
  prometheus::Family<prometheus::Histogram>& inference_rows_;
  prometheus::Family<prometheus::Histogram>& batch_images_;
  prometheus::Family<prometheus::Histogram>& batch_requests_;
  prometheus::Family<prometheus::Gauge>& model_loaded_;
  prometheus::Family<prometheus::Gauge>& model_load_seconds_;
  prometheus::Gauge* in_flight_;
  std::atomic<std::int64_t> in_flight_count_{0};
  prometheus::Gauge* connections_;
  prometheus::Gauge* resident_bytes_;
  prometheus::Gauge* virtual_bytes_;
  prometheus::Gauge* open_fds_;
  prometheus::Gauge* max_fds_;
  prometheus::Gauge* start_time_;
  prometheus::Counter* cpu_seconds_;
  double cpu_seconds_reported_ = 0;

  // Family::Add hashes every label on each call; these caches make repeat lookups one map probe.
  std::mutex cache_mutex_;
  std::unordered_map<std::string, prometheus::Counter*> request_cache_;
  std::unordered_map<std::string, prometheus::Histogram*> latency_cache_;
  std::unordered_map<std::string, InferenceSeries> inference_cache_;
  std::unordered_map<std::string, prometheus::Histogram*> batch_cache_;
  std::unordered_map<std::string, prometheus::Histogram*> batch_requests_cache_;
  std::mutex render_mutex_;
};

}  // namespace mls::server
