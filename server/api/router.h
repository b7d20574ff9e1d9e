#pragma once
// Routes a request to its handler and records the request metrics. Socket-free; the session
// decides which thread it runs on, and batched model work may answer from a compute thread.

#include <string_view>

#include "server/api/http_types.h"
#include "server/api/service.h"

namespace mls::server {

class Router {
 public:
  explicit Router(Service& service) : service_(service) {}

  // Answers through reply exactly once: at once, or later from a model's compute thread. Never
  // throws: an unexpected exception becomes a 500 and a log line. deadline bounds queueing.
  void dispatch(const RequestPtr& req, Clock::time_point deadline, Reply reply);

  // Records a request answered without dispatch (the session's own 503s).
  void record(const Request& req, const Response& res, const std::string& model,
              Clock::time_point start);

  // Whether this request is model work big enough to run on an inference thread rather than the
  // I/O thread that read it (so /ping never waits behind it).
  bool runs_on_worker(const Request& req) const;

  // The route label for metrics: the route's path, or "other".
  static std::string_view route_of(std::string_view target);

  Service& service() { return service_; }

 private:
  Response route(const Request& req);

  Service& service_;
};

}  // namespace mls::server
