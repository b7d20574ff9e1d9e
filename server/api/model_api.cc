#include "server/api/model_api.h"
#include "server/codec/error_text.h"

#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "server/api/error_response.h"

namespace mls::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kPageSize = 100;

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= s.size()) return std::nullopt;
    auto [ptr, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16);
    if (ec != std::errc() || ptr != s.data() + i + 3) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

// The value of a query parameter, if present.
std::optional<std::string_view> query_param(std::string_view target, std::string_view key) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key)
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

json describe(const LoadedModel& m) {
  return {{"modelName", m.name}, {"modelUrl", m.dir}};
}

Response list_models(const Request& req, const RegistrySnapshot& snap) {
  std::size_t offset = 0, limit = kPageSize;
  auto number = [](std::string_view text, std::size_t& out) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
  };
  if (auto token = query_param(req.target(), "next_page_token"); token && !token->empty()) {
    if (!number(*token, offset) || offset > snap.models.size())
      return error_response(req, http::status::bad_request, "next_page_token is not valid");
  }
  if (auto l = query_param(req.target(), "limit"); l && !l->empty()) {
    if (!number(*l, limit) || limit == 0)
      return error_response(req, http::status::bad_request, "limit must be a positive integer");
    limit = std::min(limit, kPageSize);
  }
  json models = json::array();
  const std::size_t end = std::min(snap.models.size(), offset + limit);
  for (std::size_t i = offset; i < end; ++i)
    models.push_back(describe(snap.models[i]));
  json body = {{"models", models}};
  if (end < snap.models.size()) body["nextPageToken"] = std::to_string(end);
  return json_response(req, http::status::ok, body.dump() + "\n");
}

// The url must name a directory inside the multi-model root (SageMaker passes
// /opt/ml/models/<name>/model); anything else is refused rather than read.
Result<fs::path> model_dir_of(const std::string& url, const std::string& root) {
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::path(url), ec);
  const fs::path base = fs::weakly_canonical(fs::path(root), ec);
  if (ec || !fs::path(url).is_absolute()) {
    return make_error(ErrorCode::kInvalidArgument, "url must be an absolute path");
  }
  auto [b, d] = std::mismatch(base.begin(), base.end(), dir.begin(), dir.end());
  if (b != base.end()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "url " + url + " is outside the multi-model root " + root);
  }
  if (!fs::is_directory(dir, ec))
    return make_error(ErrorCode::kNotFound, "no model directory at " + url);
  return dir;
}

Response load(const Request& req, Service& service) {
  const json body = json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object() || !body.contains("model_name") ||
      !body["model_name"].is_string() || !body.contains("url") || !body["url"].is_string()) {
    return error_response(req, http::status::bad_request,
                          "expected a JSON body {\"model_name\": \"NAME\", \"url\": \"/opt/ml/"
                          "models/NAME/model\"}");
  }
  const std::string name = body["model_name"].get<std::string>();
  const std::string url = body["url"].get<std::string>();
  if (name.empty() || name.size() > 1024 || name.find('/') != std::string::npos) {
    return error_response(req, http::status::bad_request,
                          "model_name must be 1 to 1024 characters without '/'");
  }
  auto dir = model_dir_of(url, service.options.multi_model_root);
  if (!dir) return error_response(req, dir.error());
  auto loaded = service.registry.load(name, *dir, service.options.model_memory_budget_bytes);
  if (!loaded) {
    const Error& e = loaded.error();
    switch (e.code) {
      case ErrorCode::kAlreadyExists:
        return error_response(req, http::status::conflict, e.message);
      case ErrorCode::kResourceExhausted:
        return error_response(req, http::status::insufficient_storage, e.message);
      case ErrorCode::kNotFound:
        return error_response(req, http::status::not_found, e.message);
      default:  // an artifact that cannot serve is the caller's bad input, not our fault
        return error_response(req, http::status::bad_request,
                              "cannot load model '" + name + "': " + e.message);
    }
  }
  service.metrics.set_model_state(name, true, loaded->load_seconds);
  // The url as given: that is what SageMaker compares when it lists the models.
  json answer = {
      {"status", "Model \"" + name + "\" loaded"}, {"modelName", name}, {"modelUrl", url}};
  return json_response(req, http::status::ok, answer.dump() + "\n");
}

}  // namespace

std::optional<ModelPath> parse_model_path(std::string_view path) {
  constexpr std::string_view kRoot = "/models";
  if (path == kRoot || path == "/models/") return ModelPath{};
  if (!path.starts_with("/models/")) return std::nullopt;
  std::string_view rest = path.substr(kRoot.size() + 1);
  ModelPath out;
  if (rest.ends_with("/invoke")) {
    out.invoke = true;
    rest.remove_suffix(std::string_view("/invoke").size());
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
  auto name = percent_decode(rest);
  if (!name || name->empty()) return std::nullopt;
  out.name = std::move(*name);
  return out;
}

Response handle_models(const Request& req, const ModelPath& path, Service& service) {
  if (!service.options.multi_model) {
    return error_response(req, http::status::not_found,
                          "the multi-model API is off; start serve with --multi-model (or "
                          "SAGEMAKER_MULTI_MODEL=true)");
  }
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  auto snap = service.registry.snapshot();
  if (path.name.empty()) {
    if (get) return list_models(req, *snap);
    if (req.method() == http::verb::post) return load(req, service);
    Response res = error_response(req, http::status::method_not_allowed,
                                  "use GET /models (list) or POST /models (load)");
    res.set(http::field::allow, "GET, POST");
    return res;
  }
  if (get) {
    const LoadedModel* m = snap->find(path.name);
    if (m == nullptr) {
      return error_response(req, http::status::not_found,
                            "model '" + quote_input(path.name) + "' is not loaded");
    }
    return json_response(req, http::status::ok, describe(*m).dump() + "\n");
  }
  if (req.method() == http::verb::delete_) {
    if (auto s = service.registry.unload(path.name); !s) return error_response(req, s.error());
    service.metrics.set_model_state(path.name, false, 0);
    json answer = {{"status", "Model \"" + path.name + "\" unloaded"}};
    return json_response(req, http::status::ok, answer.dump() + "\n");
  }
  Response res = error_response(req, http::status::method_not_allowed,
                                "use GET or DELETE on /models/NAME, POST on /models/NAME/invoke");
  res.set(http::field::allow, "GET, DELETE");
  return res;
}

}  // namespace mls::server
