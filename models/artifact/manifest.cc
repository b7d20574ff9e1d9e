#include "models/artifact/manifest.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "models/core/json_depth.h"

namespace mls {

using nlohmann::json;

namespace {

constexpr int kMaxManifestDepth = 64;

json parse_or_empty(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json::object() : j;
}

Error malformed(const std::string& what) {
  return make_error(ErrorCode::kDataLoss, what);
}

// A field of the wrong numeric kind. nlohmann's get<integer>() casts a float (which is also what a
// too-large integer literal parses to) with a plain static_cast: undefined behaviour out of range.
struct BadNumber {
  std::string message;
};

std::uint64_t unsigned_at(const json& parent, const char* key) {
  const json& v = parent.at(key);
  if (!v.is_number_unsigned()) {
    throw BadNumber{std::string(key) + " must be an integer from 0 to 2^64-1, not " + v.dump()};
  }
  return v.get<std::uint64_t>();
}

// Finite and within float's range (a double beyond it converts with undefined behaviour).
float float_at(const json& parent, const char* key) {
  const json& v = parent.at(key);
  if (!v.is_number()) throw BadNumber{std::string(key) + " must be a number, not " + v.dump()};
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max()) {
    throw BadNumber{std::string(key) + " is out of the float range: " + v.dump()};
  }
  return static_cast<float>(d);
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
  // training.metrics and training.hyperparameters are kept with dump(), which recurses.
  CappedJson parsed = parse_json_capped(text, kMaxManifestDepth);
  if (parsed.too_deep) {
    return malformed("JSON nested deeper than " + std::to_string(kMaxManifestDepth) + " levels");
  }
  json& j = parsed.value;
  if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
  try {
    if (j.value("format", "") != kArtifactFormat) {
      return malformed("\"format\" is not \"" + std::string(kArtifactFormat) + "\"");
    }
    Manifest m;
    const std::uint64_t version = unsigned_at(j, "format_version");
    if (version != static_cast<std::uint64_t>(kArtifactFormatVersion)) {
      return make_error(ErrorCode::kUnsupported,
                        "format_version " + std::to_string(version) +
                            " is not supported (this build reads version " +
                            std::to_string(kArtifactFormatVersion) + ")");
    }
    m.format_version = kArtifactFormatVersion;
    m.name = j.value("name", "");
    m.created_by = j.value("created_by", "");
    m.info.model_type = j.at("model_type").get<std::string>();
    const json& input = j.at("input");
    const std::string kind = input.at("kind").get<std::string>();
    if (kind != "tabular" && kind != "image")
      return malformed("input.kind must be tabular or image");
    m.info.input_kind = kind == "tabular" ? InputKind::kTabular : InputKind::kImage;
    m.info.num_features = unsigned_at(input, "num_features");
    if (m.info.input_kind == InputKind::kImage) {
      const json& image = input.at("image");
      const std::uint64_t side = unsigned_at(image, "height");
      if (side == 0 || side > 4096 || unsigned_at(image, "width") != side ||
          side * side != m.info.num_features) {
        return malformed(
            "input.image must be square, at most 4096 pixels a side, and match "
            "input.num_features");
      }
      m.info.image.size = side;
      m.info.image.mean = float_at(image, "mean");
      m.info.image.std = float_at(image, "std");
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
    m.weights_size = unsigned_at(weights, "size_bytes");
    m.weights_sha256 = weights.at("sha256").get<std::string>();
    if (j.contains("training")) {
      m.info.training_metrics_json = j["training"].value("metrics", json::object()).dump();
      m.info.hyperparameters_json = j["training"].value("hyperparameters", json::object()).dump();
    }
    return m;
  } catch (const json::exception& e) {
    return malformed(std::string("missing or mistyped field: ") + e.what());
  } catch (const BadNumber& e) {
    return malformed(e.message);
  }
}

}  // namespace mls
