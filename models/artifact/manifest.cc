#include "models/artifact/manifest.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace mls {

using nlohmann::json;

namespace {

json parse_or_empty(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json::object() : j;
}

Error malformed(const std::string& what) {
  return make_error(ErrorCode::kDataLoss, what);
}

}  // namespace

std::string manifest_to_json(const Manifest& m) {
  json j;
  j["format"] = kArtifactFormat;
  j["format_version"] = m.format_version;
  if (!m.name.empty()) j["name"] = m.name;
  j["model_type"] = m.info.model_type;
  j["created_by"] = m.created_by;
  j["input"] = {{"kind", m.info.input_kind == InputKind::kTabular ? "tabular" : "image"},
                {"num_features", m.info.num_features},
                {"feature_names", m.info.feature_names}};
  if (m.info.input_kind == InputKind::kImage) {
    j["input"]["image"] = {
        {"height", m.info.image.size}, {"width", m.info.image.size}, {"channels", 1},
        {"color", "grayscale"},        {"mean", m.info.image.mean},  {"std", m.info.image.std}};
  }
  j["classes"] = {{"labels", m.info.class_labels}, {"names", m.info.class_names}};
  j["weights"] = {
      {"file", m.weights_file}, {"size_bytes", m.weights_size}, {"sha256", m.weights_sha256}};
  j["training"] = {{"metrics", parse_or_empty(m.info.training_metrics_json)},
                   {"hyperparameters", parse_or_empty(m.info.hyperparameters_json)}};
  return j.dump(2) + "\n";
}

Result<Manifest> manifest_from_json(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
  try {
    if (j.value("format", "") != kArtifactFormat) {
      return malformed("\"format\" is not \"" + std::string(kArtifactFormat) + "\"");
    }
    Manifest m;
    m.format_version = j.at("format_version").get<int>();
    if (m.format_version != kArtifactFormatVersion) {
      return make_error(ErrorCode::kUnsupported,
                        "format_version " + std::to_string(m.format_version) +
                            " is not supported (this build reads version " +
                            std::to_string(kArtifactFormatVersion) + ")");
    }
    m.name = j.value("name", "");
    m.created_by = j.value("created_by", "");
    m.info.model_type = j.at("model_type").get<std::string>();
    const json& input = j.at("input");
    const std::string kind = input.at("kind").get<std::string>();
    if (kind != "tabular" && kind != "image")
      return malformed("input.kind must be tabular or image");
    m.info.input_kind = kind == "tabular" ? InputKind::kTabular : InputKind::kImage;
    m.info.num_features = input.at("num_features").get<std::size_t>();
    if (m.info.input_kind == InputKind::kImage) {
      const json& image = input.at("image");
      const auto side = image.at("height").get<std::size_t>();
      if (side == 0 || side > 4096 || image.at("width").get<std::size_t>() != side ||
          side * side != m.info.num_features) {
        return malformed(
            "input.image must be square, at most 4096 pixels a side, and match "
            "input.num_features");
      }
      m.info.image.size = side;
      m.info.image.mean = image.at("mean").get<float>();
      m.info.image.std = image.at("std").get<float>();
      if (!std::isfinite(m.info.image.mean) || !std::isfinite(m.info.image.std) ||
          !(m.info.image.std > 0)) {
        return malformed("input.image.mean must be finite and input.image.std positive");
      }
    }
    m.info.feature_names = input.value("feature_names", std::vector<std::string>{});
    if (!m.info.feature_names.empty() && m.info.feature_names.size() != m.info.num_features) {
      return malformed("input.feature_names has " + std::to_string(m.info.feature_names.size()) +
                       " names for " + std::to_string(m.info.num_features) + " features");
    }
    m.info.class_labels = j.at("classes").at("labels").get<std::vector<double>>();
    m.info.class_names = j.at("classes").at("names").get<std::vector<std::string>>();
    if (m.info.class_names.size() != m.info.class_labels.size()) {
      return malformed("classes.names and classes.labels differ in length");
    }
    const json& weights = j.at("weights");
    m.weights_file = weights.at("file").get<std::string>();
    if (m.weights_file.empty() || m.weights_file.find('/') != std::string::npos ||
        m.weights_file.starts_with(".")) {
      return malformed("weights.file must be a plain file name next to the manifest");
    }
    m.weights_size = weights.at("size_bytes").get<std::uint64_t>();
    m.weights_sha256 = weights.at("sha256").get<std::string>();
    if (j.contains("training")) {
      m.info.training_metrics_json = j["training"].value("metrics", json::object()).dump();
      m.info.hyperparameters_json = j["training"].value("hyperparameters", json::object()).dump();
    }
    return m;
  } catch (const json::exception& e) {
    return malformed(std::string("missing or mistyped field: ") + e.what());
  }
}

}  // namespace mls
