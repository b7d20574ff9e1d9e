#include "server/metrics/emf_reporter.h"

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

namespace mls::server {
namespace {

constexpr const char* kRoute = "/invocations";

bool has_label(const prometheus::ClientMetric& m, const std::string& name,
               const std::string& value) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value == value;
  }
  return false;
}

// The q-quantile of the samples that fell into buckets between two snapshots, interpolating
// linearly inside the bucket (what Prometheus's histogram_quantile does).
double quantile_ms(double q, const std::vector<double>& bounds,
                   const std::vector<std::uint64_t>& now,
                   const std::vector<std::uint64_t>& before) {
  if (now.empty()) return 0;
  auto delta = [&](std::size_t i) {
    return static_cast<double>(now[i] - (i < before.size() ? before[i] : 0));
  };
  const double total = delta(now.size() - 1);
  if (total <= 0) return 0;
  const double rank = q * total;
  for (std::size_t i = 0; i < now.size(); ++i) {
    if (delta(i) < rank) continue;
    if (std::isinf(bounds[i])) return (i > 0 ? bounds[i - 1] : 0) * 1e3;
    const double lower = i > 0 ? bounds[i - 1] : 0;
    const double below = i > 0 ? delta(i - 1) : 0;
    const double in_bucket = delta(i) - below;
    const double fraction = in_bucket > 0 ? (rank - below) / in_bucket : 1;
    return (lower + (bounds[i] - lower) * fraction) * 1e3;
  }
  return 0;
}

}  // namespace

EmfReporter::EmfReporter(ServerMetrics& metrics) : metrics_(metrics) {
  last_ = read_totals();
}

EmfReporter::Totals EmfReporter::read_totals() {
  Totals t;
  for (const prometheus::MetricFamily& family : metrics_.collect()) {
    if (family.name == "mls_http_requests_total") {
      for (const auto& m : family.metric) {
        if (!has_label(m, "route", kRoute)) continue;
        t.requests += m.counter.value;
        for (const auto& l : m.label) {
          if (l.name != "code") continue;
          if (l.value.starts_with("4")) t.client_errors += m.counter.value;
          if (l.value.starts_with("5")) t.server_errors += m.counter.value;
        }
      }
    }
    if (family.name == "mls_http_request_duration_seconds") {
      for (const auto& m : family.metric) {
        if (!has_label(m, "route", kRoute)) continue;
        for (const auto& b : m.histogram.bucket) {
          t.bounds.push_back(b.upper_bound);
          t.cumulative.push_back(b.cumulative_count);
        }
      }
    }
  }
  return t;
}

std::string EmfReporter::next_line() {
  const Totals now = read_totals();
  using nlohmann::json;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  json metrics = json::array();
  auto declare = [&](const char* name, const char* unit) {
    metrics.push_back({{"Name", name}, {"Unit", unit}});
  };
  declare("Requests", "Count");
  declare("ClientErrors", "Count");
  declare("ServerErrors", "Count");
  declare("LatencyP50", "Milliseconds");
  declare("LatencyP90", "Milliseconds");
  declare("LatencyP99", "Milliseconds");
  json line;
  line["_aws"] = {
      {"Timestamp", ms},
      {"CloudWatchMetrics", json::array({{{"Namespace", "mls"},
                                          {"Dimensions", json::array({json::array({"Route"})})},
                                          {"Metrics", metrics}}})}};
  line["Route"] = kRoute;
  line["Requests"] = now.requests - last_.requests;
  line["ClientErrors"] = now.client_errors - last_.client_errors;
  line["ServerErrors"] = now.server_errors - last_.server_errors;
  line["LatencyP50"] = quantile_ms(0.50, now.bounds, now.cumulative, last_.cumulative);
  line["LatencyP90"] = quantile_ms(0.90, now.bounds, now.cumulative, last_.cumulative);
  line["LatencyP99"] = quantile_ms(0.99, now.bounds, now.cumulative, last_.cumulative);
  last_ = now;
  return line.dump();
}

}  // namespace mls::server
