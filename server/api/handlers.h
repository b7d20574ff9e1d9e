#pragma once
// One function per route: request in, response out. No sockets, no threads.

#include <string>

#include "server/api/http_types.h"
#include "server/api/service.h"

namespace mls::server {

// An answer to /invocations and the name of the model that gave it (for metrics and logs).
using InvocationReply = std::function<void(Response&& res, const std::string& model)>;

Response handle_ping(const Request& req, Service& service);
// Answers through reply: at once for tabular models, from a compute thread for batched image
// models. Throws only before it has handed reply on.
// model_name: the model named by the path (POST /models/NAME/invoke); empty for /invocations,
// which chooses by headers and content type.
void handle_invocations(const RequestPtr& req, Clock::time_point deadline, Service& service,
                        InvocationReply reply, const std::string& model_name = {});
Response handle_execution_parameters(const Request& req, Service& service);
Response handle_metrics(const Request& req, Service& service);

}  // namespace mls::server
