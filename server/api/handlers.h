#pragma once
// One function per route: request in, response out. No sockets, no threads.

#include <string>

#include "server/api/http_types.h"
#include "server/api/service.h"

namespace mls::server {

// `model` receives the name of the model that served the request, for metrics and logs.
Response handle_ping(const Request& req, Service& service);
Response handle_invocations(const Request& req, Service& service, std::string& model);
Response handle_execution_parameters(const Request& req, Service& service);
Response handle_metrics(const Request& req, Service& service);

}  // namespace mls::server
