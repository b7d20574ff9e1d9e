#include "server/metrics/server_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <prometheus/text_serializer.h>
#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>

namespace mls::server {
namespace {

using prometheus::Histogram;

std::atomic<std::uint64_t> next_serial{1};  // ServerMetrics' serial numbers

const Histogram::BucketBoundaries& latency_buckets() {
  static const Histogram::BucketBoundaries b = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                1,      2.5,     5,      10,    30,     60};
  return b;
}

const Histogram::BucketBoundaries& row_buckets() {
  static const Histogram::BucketBoundaries b = {1,   2,    5,    10,    50,    100,
                                                500, 1000, 5000, 10000, 100000};
  return b;
}

std::size_t count_open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d))
      n += e->d_name[0] != '.';
    ::closedir(d);
    n -= 1;  // the descriptor opendir itself holds
  }
  return n;
}

double process_start_unix_seconds() {
  // Field 22 of /proc/self/stat is the start time in clock ticks since boot.
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  std::ifstream uptime_file("/proc/uptime");
  double uptime = 0;
  uptime_file >> uptime;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double started_ago = uptime - std::stod(field.empty() ? "0" : field) / ticks;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now - started_ago;
}

}  // namespace

ServerMetrics::ServerMetrics()
    : serial_(next_serial.fetch_add(1)),
      registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("mls_http_requests_total")
                    .Help("HTTP requests answered, by route, model and status code")
                    .Register(*registry_)),
      request_seconds_(prometheus::BuildHistogram()
                           .Name("mls_http_request_duration_seconds")
                           .Help("Time from a request's last byte read to its response, by route")
                           .Register(*registry_)),
      inference_seconds_(prometheus::BuildHistogram()
                             .Name("mls_inference_duration_seconds")
                             .Help("Time spent in the model alone, per request")
                             .Register(*registry_)),
      inference_rows_(prometheus::BuildHistogram()
                          .Name("mls_inference_rows")
                          .Help("Rows or images per inference request")
                          .Register(*registry_)),
      batch_images_(prometheus::BuildHistogram()
                        .Name("mls_inference_batch_images")
                        .Help("Images per model call under dynamic batching (requests that arrived "
                              "together run as one batch)")
                        .Register(*registry_)),
      batch_requests_(prometheus::BuildHistogram()
                          .Name("mls_inference_batch_requests")
                          .Help("Large tabular requests per model call under dynamic batching "
                                "(requests that arrived together share one forest pass)")
                          .Register(*registry_)),
      model_loaded_(prometheus::BuildGauge()
                        .Name("mls_model_loaded")
                        .Help("1 when the model is loaded and passed its warm-up prediction")
                        .Register(*registry_)),
      model_load_seconds_(prometheus::BuildGauge()
                              .Name("mls_model_load_duration_seconds")
                              .Help("Time taken to load and warm up the model")
                              .Register(*registry_)) {
  in_flight_ = &prometheus::BuildGauge()
                    .Name("mls_http_requests_in_flight")
                    .Help("Requests read and not yet answered")
                    .Register(*registry_)
                    .Add({});
  connections_ = &prometheus::BuildGauge()
                      .Name("mls_http_connections_open")
                      .Help("Open client connections")
                      .Register(*registry_)
                      .Add({});
  resident_bytes_ = &prometheus::BuildGauge()
                         .Name("process_resident_memory_bytes")
                         .Help("Resident memory size in bytes")
                         .Register(*registry_)
                         .Add({});
  virtual_bytes_ = &prometheus::BuildGauge()
                        .Name("process_virtual_memory_bytes")
                        .Help("Virtual memory size in bytes")
                        .Register(*registry_)
                        .Add({});
  open_fds_ = &prometheus::BuildGauge()
                   .Name("process_open_fds")
                   .Help("Open file descriptors")
                   .Register(*registry_)
                   .Add({});
  max_fds_ = &prometheus::BuildGauge()
                  .Name("process_max_fds")
                  .Help("Limit on open file descriptors")
                  .Register(*registry_)
                  .Add({});
  start_time_ = &prometheus::BuildGauge()
                     .Name("process_start_time_seconds")
                     .Help("Start time of the process since the Unix epoch, in seconds")
                     .Register(*registry_)
                     .Add({});
  cpu_seconds_ = &prometheus::BuildCounter()
                      .Name("process_cpu_seconds_total")
                      .Help("User and system CPU time spent, in seconds")
                      .Register(*registry_)
                      .Add({});
  start_time_->Set(process_start_unix_seconds());
}

namespace {

// Every series a thread touched lately, so that the steady state (the same few routes, models and
// codes over and over) finds its counter and histograms without the shared lock, a string key or a
// hash. A series is never removed from its family, so the pointers stay valid while their
// ServerMetrics lives; entries carry the instance's serial number, never its address, so a new
// instance at a recycled address cannot meet an old one's pointers.
struct RecentRequest {
  std::uint64_t owner = 0;
  unsigned status = 0;
  std::string route;
  std::string model;
  prometheus::Counter* counter = nullptr;
  prometheus::Histogram* latency = nullptr;
};

struct RecentInference {
  std::uint64_t owner = 0;
  std::string model;
  prometheus::Histogram* seconds = nullptr;
  prometheus::Histogram* rows = nullptr;
};

template <class Entry>
struct RecentSeries {
  static constexpr std::size_t kSize = 8;
  std::array<Entry, kSize> entries;
  std::size_t next = 0;  // the slot a miss overwrites: round robin
  Entry& slot_for_miss() { return entries[next++ % kSize]; }
};

thread_local RecentSeries<RecentRequest> recent_requests;
thread_local RecentSeries<RecentInference> recent_inferences;

}  // namespace

void ServerMetrics::observe_request(std::string_view route, std::string_view model, unsigned status,
                                    double seconds) {
  for (const RecentRequest& e : recent_requests.entries) {
    if (e.owner == serial_ && e.status == status && e.route == route && e.model == model) {
      e.counter->Increment();
      e.latency->Observe(seconds);
      return;
    }
  }
  std::string key;
  key.reserve(route.size() + model.size() + 6);
  key.append(route).append(1, '\x1f').append(model).append(1, '\x1f').append(
      std::to_string(status));
  prometheus::Counter* counter;
  prometheus::Histogram* latency;
  {
    std::lock_guard lock(cache_mutex_);
    auto it = request_cache_.find(key);
    if (it == request_cache_.end()) {
      auto& c = requests_.Add({{"route", std::string(route)},
                               {"model", std::string(model)},
                               {"code", std::to_string(status)}});
      it = request_cache_.emplace(key, &c).first;
    }
    counter = it->second;
    latency = &request_latency(route);
  }
  recent_requests.slot_for_miss() =
      RecentRequest{serial_, status, std::string(route), std::string(model), counter, latency};
  counter->Increment();
  latency->Observe(seconds);
}

prometheus::Histogram& ServerMetrics::request_latency(std::string_view route) {
  std::string key(route);
  auto it = latency_cache_.find(key);
  if (it == latency_cache_.end()) {
    it = latency_cache_.emplace(key, &request_seconds_.Add({{"route", key}}, latency_buckets()))
             .first;
  }
  return *it->second;
}

void ServerMetrics::observe_inference(std::string_view model, double seconds, std::size_t rows) {
  for (const RecentInference& e : recent_inferences.entries) {
    if (e.owner == serial_ && e.model == model) {
      e.seconds->Observe(seconds);
      e.rows->Observe(static_cast<double>(rows));
      return;
    }
  }
  InferenceSeries series;
  {
    std::lock_guard lock(cache_mutex_);
    std::string key(model);
    auto it = inference_cache_.find(key);
    if (it == inference_cache_.end()) {
      InferenceSeries s{&inference_seconds_.Add({{"model", key}}, latency_buckets()),
                        &inference_rows_.Add({{"model", key}}, row_buckets())};
      it = inference_cache_.emplace(key, s).first;
    }
    series = it->second;
  }
  recent_inferences.slot_for_miss() =
      RecentInference{serial_, std::string(model), series.seconds, series.rows};
  series.seconds->Observe(seconds);
  series.rows->Observe(static_cast<double>(rows));
}

void ServerMetrics::observe_per_model(
    prometheus::Family<prometheus::Histogram>& family,
    std::unordered_map<std::string, prometheus::Histogram*>& cache,
    const Histogram::BucketBoundaries& buckets, const std::string& model, double value) {
  prometheus::Histogram* h = nullptr;
  {
    std::lock_guard lock(cache_mutex_);
    auto it = cache.find(model);
    if (it == cache.end())
      it = cache.emplace(model, &family.Add({{"model", model}}, buckets)).first;
    h = it->second;
  }
  h->Observe(value);
}

void ServerMetrics::observe_batch(const std::string& model, std::size_t images) {
  static const Histogram::BucketBoundaries buckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
  observe_per_model(batch_images_, batch_cache_, buckets, model, static_cast<double>(images));
}

void ServerMetrics::observe_batch_requests(const std::string& model, std::size_t requests) {
  static const Histogram::BucketBoundaries buckets = {1, 2, 4, 8, 16, 32, 64};
  observe_per_model(batch_requests_, batch_requests_cache_, buckets, model,
                    static_cast<double>(requests));
}

void ServerMetrics::set_model_state(const std::string& model, bool loaded, double load_seconds) {
  model_loaded_.Add({{"model", model}}).Set(loaded ? 1 : 0);
  model_load_seconds_.Add({{"model", model}}).Set(load_seconds);
}

void ServerMetrics::update_process_metrics() {
  std::ifstream statm("/proc/self/statm");
  double size_pages = 0, resident_pages = 0;
  statm >> size_pages >> resident_pages;
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  resident_bytes_->Set(resident_pages * page);
  virtual_bytes_->Set(size_pages * page);
  open_fds_->Set(static_cast<double>(count_open_fds()));
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) max_fds_->Set(static_cast<double>(limit.rlim_cur));
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    auto seconds = [](const timeval& t) {
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    const double total = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    if (total > cpu_seconds_reported_) {
      cpu_seconds_->Increment(total - cpu_seconds_reported_);
      cpu_seconds_reported_ = total;
    }
  }
}

std::string ServerMetrics::render() {
  std::lock_guard lock(render_mutex_);
  update_process_metrics();
  sync_in_flight();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace mls::server
