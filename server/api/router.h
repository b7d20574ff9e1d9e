#pragma once
// Routes a request to its handler and records the request metrics. Synchronous and socket-free,
// so tests can call it directly; the session decides which thread it runs on.

#include <string_view>

#include "server/api/http_types.h"
#include "server/api/service.h"

namespace mls::server {

class Router {
 public:
  explicit Router(Service& service) : service_(service) {}

  // Never throws: an unexpected exception becomes a 500 and a log line.
  Response dispatch(const Request& req);

  // Whether this request is model work big enough to run on an inference thread rather than the
  // I/O thread that read it (so /ping never waits behind it).
  bool runs_on_worker(const Request& req) const;

  // The route label for metrics: the route's path, or "other".
  static std::string_view route_of(std::string_view target);

  Service& service() { return service_; }

 private:
  Response route(const Request& req, std::string& model);

  Service& service_;
};

}  // namespace mls::server
