#include "server/api/error_response.h"

#include <nlohmann/json.hpp>

namespace mls::server {

http::status status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return http::status::bad_request;
    case ErrorCode::kNotFound:
      return http::status::not_found;
    case ErrorCode::kAlreadyExists:
      return http::status::conflict;
    case ErrorCode::kUnsupported:
      return http::status::unsupported_media_type;
    case ErrorCode::kNotAcceptable:
      return http::status::not_acceptable;
    case ErrorCode::kFailedPrecondition:
      return http::status::service_unavailable;
    case ErrorCode::kResourceExhausted:
      return http::status::payload_too_large;
    case ErrorCode::kDeadlineExceeded:
      return http::status::service_unavailable;
    case ErrorCode::kDataLoss:
      return http::status::internal_server_error;
    case ErrorCode::kInternal:
      return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

Response json_response(const Request& req, http::status status, std::string body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response error_response(const Request& req, http::status status, std::string_view message) {
  nlohmann::json body = {{"error", std::string(message)}};
  return json_response(req, status,
                       body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

Response error_response(const Request& req, const Error& error) {
  return error_response(req, status_of(error.code), error.message);
}

}  // namespace mls::server
