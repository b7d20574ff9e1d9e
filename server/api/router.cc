#include "server/api/router.h"
#include "server/codec/error_text.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "server/api/error_response.h"
#include "server/api/handlers.h"
#include "server/api/model_api.h"

namespace mls::server {
namespace {

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

Response method_not_allowed(const Request& req, std::string_view allowed) {
  Response res =
      error_response(req, http::status::method_not_allowed,
                     quote_input(req.method_string()) + " is not allowed on " +
                         quote_input(path_of(req.target())) + "; use " + std::string(allowed));
  res.set(http::field::allow, boost::beast::string_view(allowed.data(), allowed.size()));
  return res;
}

bool is_get(const Request& req) {
  return req.method() == http::verb::get || req.method() == http::verb::head;
}

}  // namespace

std::string_view Router::route_of(std::string_view target) {
  const std::string_view path = path_of(target);
  for (std::string_view known : {"/ping", "/invocations", "/execution-parameters", "/metrics"}) {
    if (path == known) return known;
  }
  // One label for every model name: names would make the series unbounded.
  if (auto m = parse_model_path(path)) {
    if (m->invoke) return "/models/{name}/invoke";
    return m->name.empty() ? "/models" : "/models/{name}";
  }
  return "other";
}

bool Router::runs_on_worker(const Request& req) const {
  if (req.method() != http::verb::post) return false;
  const std::string_view path = path_of(req.target());
  if (path == "/invocations") return req.body().size() > service_.options.inline_max_bytes;
  // Loading a model reads and checks its files: not on an I/O thread.
  if (path == "/models" || path == "/models/") return true;
  return path.starts_with("/models/") && req.body().size() > service_.options.inline_max_bytes;
}

Response Router::route(const Request& req) {
  const std::string_view path = path_of(req.target());
  if (path == "/ping")
    return is_get(req) ? handle_ping(req, service_) : method_not_allowed(req, "GET");
  if (path == "/invocations") return method_not_allowed(req, "POST");
  if (path == "/execution-parameters") {
    return is_get(req) ? handle_execution_parameters(req, service_)
                       : method_not_allowed(req, "GET");
  }
  if (path == "/metrics")
    return is_get(req) ? handle_metrics(req, service_) : method_not_allowed(req, "GET");
  if (auto m = parse_model_path(path)) {
    if (m->invoke && service_.options.multi_model) return method_not_allowed(req, "POST");
    return handle_models(req, *m, service_);
  }
  return error_response(
      req, http::status::not_found,
      "no route for " + quote_input(req.method_string()) + " " + quote_input(path) +
          "; routes: GET /ping, POST /invocations, GET /execution-parameters, GET /metrics");
}

void Router::dispatch(const RequestPtr& req, Clock::time_point deadline, Reply reply) {
  const auto start = Clock::now();
  std::optional<ModelPath> invoke;
  if (req->method() == http::verb::post) {
    const std::string_view path = path_of(req->target());
    if (path == "/invocations") {
      invoke.emplace();
    } else if (auto m = parse_model_path(path); m && m->invoke) {
      if (service_.options.multi_model) invoke = std::move(m);
    }
  }
  if (invoke) {
    // Shared, not on this stack: a batched answer arrives after dispatch has returned.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto finish = [this, req, start, reply, answered](Response&& res, const std::string& model) {
      if (answered->exchange(true)) return;
      record(*req, res, model, start);
      reply(std::move(res));
    };
    try {
      handle_invocations(req, deadline, service_, finish, invoke->name);
    } catch (const std::exception& e) {
      spdlog::error("POST {}: unexpected failure: {}", std::string(req->target()), e.what());
      finish(error_response(*req, http::status::internal_server_error, "internal error"), "");
    }
    return;
  }
  Response res;
  try {
    res = route(*req);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: unexpected failure: {}", std::string(req->method_string()),
                  std::string(req->target()), e.what());
    res = error_response(*req, http::status::internal_server_error, "internal error");
  }
  record(*req, res, "", start);
  reply(std::move(res));
}

void Router::record(const Request& req, const Response& res, const std::string& model,
                    Clock::time_point start) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const std::string_view route = route_of(req.target());
  service_.metrics.observe_request(route, model, res.result_int(), seconds);
  const bool server_fault = res.result_int() >= 500 && res.result_int() != 503;
  if (service_.options.log_requests || server_fault) {
    spdlog::log(server_fault ? spdlog::level::warn : spdlog::level::info,
                "{} {} -> {} ({:.3f} ms){}{}", std::string(req.method_string()),
                std::string(req.target()), res.result_int(), seconds * 1e3,
                model.empty() ? "" : " model=" + model,
                req.count("X-Amzn-SageMaker-Inference-Id")
                    ? " inference_id=" + std::string(req["X-Amzn-SageMaker-Inference-Id"])
                    : "");
  } else if (res.result_int() >= 400) {
    spdlog::debug("{} {} -> {}: {}", std::string(req.method_string()), std::string(req.target()),
                  res.result_int(), res.body());
  }
}

}  // namespace mls::server
