#include "server/api/handlers.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/api/custom_attributes.h"
#include "server/api/error_response.h"
#include "server/codec/media_type.h"
#include "server/codec/prediction_encoder.h"
#include "server/codec/tabular_decoder.h"

namespace mls::server {
namespace {

using nlohmann::json;

std::string_view header(const Request& req, std::string_view name) {
  auto it = req.find(boost::beast::string_view(name.data(), name.size()));
  if (it == req.end()) return {};
  return {it->value().data(), it->value().size()};
}

// Custom attribute model=NAME, then the target-model header, then the only model, then the only
// model that reads this content type.
Result<const LoadedModel*> choose_model(const Request& req, const RegistrySnapshot& snap) {
  std::optional<std::string> name =
      custom_attribute(header(req, "X-Amzn-SageMaker-Custom-Attributes"), "model");
  if (!name) {
    const std::string_view target = header(req, "X-Amzn-SageMaker-Target-Model");
    if (!target.empty()) name = model_name_from_target(target);
  }
  if (name) {
    if (const LoadedModel* m = snap.find(*name)) return m;
    return make_error(ErrorCode::kNotFound,
                      "model '" + *name + "' is not loaded; loaded models: " + snap.names());
  }
  if (snap.models.size() == 1) return &snap.models.front();
  const LoadedModel* tabular = nullptr;
  for (const LoadedModel& m : snap.models) {
    if (m.model->info().input_kind != InputKind::kTabular) continue;
    if (tabular != nullptr) {
      return make_error(ErrorCode::kInvalidArgument,
                        "several models read tabular input (" + snap.names() +
                            "); name one with X-Amzn-SageMaker-Custom-Attributes: model=NAME");
    }
    tabular = &m;
  }
  if (tabular != nullptr) return tabular;
  return make_error(ErrorCode::kUnsupported, "no loaded model reads content type '" +
                                                 media_essence(header(req, "Content-Type")) + "'");
}

void add_inference_id(const Request& req, Response& res) {
  const std::string_view id = header(req, "X-Amzn-SageMaker-Inference-Id");
  if (!id.empty())
    res.set("X-Amzn-SageMaker-Inference-Id", boost::beast::string_view(id.data(), id.size()));
}

}  // namespace

Response handle_ping(const Request& req, Service& service) {
  auto snap = service.registry.snapshot();
  json body;
  json models = json::array();
  for (const LoadedModel& m : snap->models)
    models.push_back(m.name);
  body["models"] = models;
  if (!snap->failures.empty()) {
    json failed = json::object();
    for (const FailedModel& f : snap->failures)
      failed[f.name] = f.reason;
    body["failed_models"] = failed;
  }
  if (snap->state == RegistrySnapshot::State::kReady) {
    body["status"] = "ready";
    return json_response(req, http::status::ok, body.dump() + "\n");
  }
  body["status"] = snap->state == RegistrySnapshot::State::kLoading ? "loading" : "unavailable";
  body["error"] =
      snap->state == RegistrySnapshot::State::kLoading ? "models are still loading" : snap->reason;
  return json_response(req, http::status::service_unavailable,
                       body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

Response handle_invocations(const Request& req, Service& service, std::string& model_label) {
  auto snap = service.registry.snapshot();
  if (snap->state != RegistrySnapshot::State::kReady) {
    const std::string why = snap->state == RegistrySnapshot::State::kLoading
                                ? "models are still loading"
                                : snap->reason;
    return error_response(req, http::status::service_unavailable, "not ready: " + why);
  }
  auto chosen = choose_model(req, *snap);
  if (!chosen) return error_response(req, chosen.error());
  const LoadedModel& entry = **chosen;
  model_label = entry.name;
  const ModelInfo& info = entry.model->info();

  auto output = negotiate_output(header(req, "Accept"));
  if (!output) return error_response(req, output.error());
  auto input = tabular_input_format(header(req, "Content-Type"), req.body());
  if (!input) return error_response(req, input.error());
  DecodeOptions options;
  options.max_rows = service.options.max_rows;
  options.keep_going = service.options.bad_record == BadRecordPolicy::kPlaceholder;
  auto rows = decode_rows(*input, req.body(), info, options);
  if (!rows) return error_response(req, rows.error());

  const auto start = std::chrono::steady_clock::now();
  std::vector<float> proba(rows->x.rows * info.class_labels.size());
  entry.model->predict_proba(rows->x.view(), proba);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  service.metrics.observe_inference(entry.name, seconds, rows->x.rows);

  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, content_type_of(*output));
  res.keep_alive(req.keep_alive());
  res.body() = entry.encoder->encode(*output, proba, rows->x.rows, rows->row_errors);
  add_inference_id(req, res);
  res.prepare_payload();
  return res;
}

Response handle_execution_parameters(const Request& req, Service& service) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  json body = {
      {"MaxConcurrentTransforms", service.options.workers != 0 ? service.options.workers : cores},
      {"BatchStrategy", "MULTI_RECORD"},
      {"MaxPayloadInMB", std::max<std::size_t>(1, service.options.max_body_bytes / (1u << 20))}};
  return json_response(req, http::status::ok, body.dump() + "\n");
}

Response handle_metrics(const Request& req, Service& service) {
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = service.metrics.render();
  res.prepare_payload();
  return res;
}

}  // namespace mls::server
