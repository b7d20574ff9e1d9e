#pragma once
// CloudWatch Embedded Metric Format: SageMaker routes only /ping and /invocations, so /metrics is
// out of reach there. A periodic JSON line on stdout turns request counts, errors and latency
// percentiles into CloudWatch metrics with no agent (CloudWatch Logs extracts them).

#include <cstdint>
#include <string>
#include <vector>

#include "server/metrics/server_metrics.h"

namespace mls::server {

class EmfReporter {
 public:
  explicit EmfReporter(ServerMetrics& metrics);

  // One EMF object (no trailing newline) for /invocations since the previous call.
  std::string next_line();

 private:
  struct Totals {
    double requests = 0, client_errors = 0, server_errors = 0;
    std::vector<double> bounds;             // bucket upper bounds, +Inf last
    std::vector<std::uint64_t> cumulative;  // cumulative counts per bucket
  };
  Totals read_totals();

  ServerMetrics& metrics_;
  Totals last_;
};

}  // namespace mls::server
