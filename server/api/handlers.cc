#include "server/api/handlers.h"
#include "server/codec/error_text.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/api/custom_attributes.h"
#include "server/api/error_response.h"
#include "server/codec/image_decoder.h"
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

// What a request's content type asks for: images (any image/ type, so an unsupported one reaches
// the image model and its 415 lists the image types that work) or rows (everything else). Without a
// content type, PNG, JPEG and .npy bodies announce themselves by their first bytes.
InputKind kind_of_content(const Request& req) {
  const std::string_view content_type = header(req, "Content-Type");
  if (image_input_format(content_type)) return InputKind::kImage;
  const std::string type = media_essence(content_type);
  if (type.starts_with("image/")) return InputKind::kImage;
  if (type.empty() && image_format_of_body(req.body())) return InputKind::kImage;
  return InputKind::kTabular;
}

// A request for a model that is not loaded: say why it failed to load when it did.
Error not_loaded(const std::string& name, const RegistrySnapshot& snap) {
  for (const FailedModel& f : snap.failures) {
    if (f.name == name) {
      return make_error(ErrorCode::kNotFound, "model '" + quote_input(name) + "' failed to load: " +
                                                  f.reason + "; loaded models: " + snap.names());
    }
  }
  return make_error(ErrorCode::kNotFound, "model '" + quote_input(name) +
                                              "' is not loaded; loaded models: " + snap.names());
}

std::string_view kind_name(InputKind kind) {
  return kind == InputKind::kImage ? "images" : "tabular rows";
}

// Custom attribute model=NAME, then the target-model header, then the only model, then the only
// model that reads what the content type carries (tabular types -> forest, image types -> CNN).
Result<const LoadedModel*> choose_model(const Request& req, const RegistrySnapshot& snap) {
  std::optional<std::string> name =
      custom_attribute(header(req, "X-Amzn-SageMaker-Custom-Attributes"), "model");
  if (!name) {
    const std::string_view target = header(req, "X-Amzn-SageMaker-Target-Model");
    if (!target.empty()) name = model_name_from_target(target);
  }
  if (name) {
    if (const LoadedModel* m = snap.find(*name)) return m;
    return not_loaded(*name, snap);
  }
  if (snap.models.size() == 1) return &snap.models.front();
  if (snap.models.empty()) return make_error(ErrorCode::kNotFound, "no model is loaded");
  const InputKind wanted = kind_of_content(req);
  const LoadedModel* match = nullptr;
  for (const LoadedModel& m : snap.models) {
    if (m.model->info().input_kind != wanted) continue;
    if (match != nullptr) {
      return make_error(ErrorCode::kInvalidArgument,
                        "several models read " + std::string(kind_name(wanted)) + " (" +
                            snap.names() +
                            "); name one with X-Amzn-SageMaker-Custom-Attributes: model=NAME");
    }
    match = &m;
  }
  if (match != nullptr) return match;
  return make_error(ErrorCode::kUnsupported, "no loaded model reads content type '" +
                                                 media_essence(header(req, "Content-Type")) +
                                                 "' (" + std::string(kind_name(wanted)) +
                                                 "); loaded models: " + snap.names());
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

namespace {

Response prediction_response(const Request& req, const PredictionEncoder& encoder,
                             OutputFormat output, std::span<const float> proba, std::size_t rows,
                             const std::vector<RowError>& row_errors) {
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, content_type_of(output));
  res.keep_alive(req.keep_alive());
  res.body() = encoder.encode(output, proba, rows, row_errors);
  add_inference_id(req, res);
  res.prepare_payload();
  return res;
}

// Decodes here. A small request (scored on the I/O thread) runs at once; a large one joins the
// model's batcher when it has one, and is answered from the compute thread that ran its batch.
void invoke_tabular(const RequestPtr& req_ptr, Clock::time_point deadline, const LoadedModel& entry,
                    OutputFormat output, Service& service, const InvocationReply& reply) {
  const Request& req = *req_ptr;
  const ModelInfo& info = entry.model->info();
  if (image_input_format(header(req, "Content-Type"))) {
    return reply(error_response(req, make_error(ErrorCode::kUnsupported,
                                                "model '" + entry.name +
                                                    "' reads tabular rows (text/csv, "
                                                    "application/json, application/jsonlines), "
                                                    "not " +
                                                    media_essence(header(req, "Content-Type")))),
                 entry.name);
  }
  auto input = tabular_input_format(header(req, "Content-Type"), req.body());
  if (!input) return reply(error_response(req, input.error()), entry.name);
  DecodeOptions options;
  options.max_rows = service.options.max_rows;
  options.max_json_depth = service.options.max_json_depth;
  options.keep_going = service.options.bad_record == BadRecordPolicy::kPlaceholder;
  auto rows = decode_rows(*input, req.body(), info, options);
  if (!rows) return reply(error_response(req, rows.error()), entry.name);

  if (entry.batcher && req.body().size() > service.options.inline_max_bytes && rows->x.rows > 0) {
    const std::size_t count = rows->x.rows;
    // As for images: the answer keeps the encoder and the name, not the snapshot.
    auto done = [req_ptr, output, count, row_errors = std::move(rows->row_errors),
                 encoder = entry.encoder, name = entry.name, &service,
                 reply](Result<std::vector<float>> proba, double seconds) {
      if (!proba) return reply(error_response(*req_ptr, proba.error()), name);
      service.metrics.observe_inference(name, seconds, count);
      reply(prediction_response(*req_ptr, *encoder, output, *proba, count, row_errors), name);
    };
    if (auto queued = entry.batcher->submit(std::move(rows->x), deadline, std::move(done));
        !queued) {
      reply(error_response(req, queued.error()), entry.name);
    }
    return;
  }

  const auto start = Clock::now();
  std::vector<float> proba(rows->x.rows * info.class_labels.size());
  entry.model->predict_proba(rows->x.view(), proba);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  service.metrics.observe_inference(entry.name, seconds, rows->x.rows);
  reply(prediction_response(req, *entry.encoder, output, proba, rows->x.rows, rows->row_errors),
        entry.name);
}

// Decodes here (I/O or inference thread), then queues the rows for the model's batcher; the answer
// is written from the compute thread that ran the batch.
void invoke_images(const RequestPtr& req, Clock::time_point deadline, const LoadedModel& entry,
                   OutputFormat output, Service& service, const InvocationReply& reply) {
  const std::string_view content_type = header(*req, "Content-Type");
  std::optional<ImageInputFormat> format = image_input_format(content_type);
  const std::string type = media_essence(content_type);
  if (!format && type.empty()) format = image_format_of_body(req->body());
  if (!format && (type == "application/json" || type.empty())) format = ImageInputFormat::kJson;
  if (!format) {
    return reply(error_response(*req, make_error(ErrorCode::kUnsupported,
                                                 "model '" + entry.name +
                                                     "' reads images (image/png, image/jpeg, "
                                                     "application/x-image, application/x-npy, "
                                                     "application/json), not " +
                                                     type)),
                 entry.name);
  }
  ImageDecodeOptions options;
  options.max_images = service.options.max_images;
  options.max_pixels = service.options.max_image_pixels;
  options.max_json_depth = service.options.max_json_depth;
  auto rows = decode_images(*format, req->body(), entry.model->info().image, options);
  if (!rows) return reply(error_response(*req, rows.error()), entry.name);
  const std::size_t count = rows->rows;
  // The answer needs the encoder and the name, not the snapshot: a job must not keep the batcher
  // that runs it alive.
  auto done = [req, output, count, encoder = entry.encoder, name = entry.name, &service, reply](
                  Result<std::vector<float>> proba, double seconds) {
    if (!proba) return reply(error_response(*req, proba.error()), name);
    service.metrics.observe_inference(name, seconds, count);
    reply(prediction_response(*req, *encoder, output, *proba, count, {}), name);
  };
  if (auto queued = entry.batcher->submit(std::move(rows).value(), deadline, std::move(done));
      !queued) {
    reply(error_response(*req, queued.error()), entry.name);
  }
}

}  // namespace

void handle_invocations(const RequestPtr& req, Clock::time_point deadline, Service& service,
                        InvocationReply reply, const std::string& model_name) {
  auto snap = service.registry.snapshot();
  if (snap->state != RegistrySnapshot::State::kReady) {
    const std::string why = snap->state == RegistrySnapshot::State::kLoading
                                ? "models are still loading"
                                : snap->reason;
    return reply(error_response(*req, http::status::service_unavailable, "not ready: " + why), "");
  }
  auto chosen = [&]() -> Result<const LoadedModel*> {
    if (model_name.empty()) return choose_model(*req, *snap);
    if (const LoadedModel* m = snap->find(model_name)) return m;
    return not_loaded(model_name, *snap);
  }();
  if (!chosen) return reply(error_response(*req, chosen.error()), "");
  const LoadedModel& entry = **chosen;
  auto output = negotiate_output(header(*req, "Accept"));
  if (!output) return reply(error_response(*req, output.error()), entry.name);
  if (entry.model->info().input_kind == InputKind::kImage)
    return invoke_images(req, deadline, entry, *output, service, reply);
  invoke_tabular(req, deadline, entry, *output, service, reply);
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
