#pragma once
// The one place where an Error becomes an HTTP status and a JSON body.

#include "models/core/status.h"
#include "server/api/http_types.h"

namespace mls::server {

http::status status_of(ErrorCode code);

// {"error": message}, short, since SageMaker passes it to the caller inside a ModelError.
Response error_response(const Request& req, const Error& error);
Response error_response(const Request& req, http::status status, std::string_view message);

// A response with a JSON body; keep-alive and version follow the request.
Response json_response(const Request& req, http::status status, std::string body);

}  // namespace mls::server
