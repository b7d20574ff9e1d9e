#include "models/artifact/model_artifact.h"

#include <future>
#include <optional>

#include "models/artifact/artifact_files.h"
#include "models/artifact/manifest.h"
#include "models/cnn/cnn_io.h"
#include "models/forest/forest_io.h"

namespace mls {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxManifestBytes = 16ull << 20;
constexpr std::uint64_t kMaxWeightsBytes = 4ull << 30;

Error in_file(const fs::path& path, const Error& e) {
  return make_error(e.code, path.string() + ": " + e.message);
}

}  // namespace

std::string_view product_version() {
  return "0.1.0";
}

bool is_model_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kManifestFileName, ec);
}

Status save_model(const fs::path& dir, const Model& model, const std::string& name) {
  std::string weights;
  Manifest m;
  if (const auto* forest = dynamic_cast<const RandomForest*>(&model)) {
    weights = encode_forest_weights(*forest);
    m.weights_file = kForestWeightsFileName;
  } else if (const auto* cnn = dynamic_cast<const ConvNet*>(&model)) {
    weights = encode_cnn_weights(*cnn);
    m.weights_file = kCnnWeightsFileName;
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "cannot save a model of type " + model.info().model_type);
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return make_error(ErrorCode::kInternal, dir.string() + ": cannot create: " + ec.message());
  m.name = name;
  m.created_by = "mls " + std::string(product_version());
  m.info = model.info();
  m.weights_size = weights.size();
  m.weights_sha256 = sha256_hex(weights);
  if (auto s = write_file_atomically(dir / m.weights_file, weights); !s) return s.error();
  if (auto s = write_file_atomically(dir / kManifestFileName, manifest_to_json(m)); !s) {
    // Weights without their manifest are not a model: leave no stray file behind.
    fs::remove(dir / m.weights_file, ec);
    return s.error();
  }
  return Ok{};
}

Result<LoadedArtifact> load_model(const fs::path& dir) {
  const fs::path manifest_path = dir / kManifestFileName;
  auto text = read_whole_file(manifest_path, kMaxManifestBytes);
  if (!text) return text.error();
  auto manifest = manifest_from_json(*text);
  if (!manifest) return in_file(manifest_path, manifest.error());
  const fs::path weights_path = dir / manifest->weights_file;
  auto weights = read_whole_file(weights_path, kMaxWeightsBytes);
  if (!weights) return weights.error();
  if (weights->size() != manifest->weights_size) {
    return make_error(ErrorCode::kDataLoss,
                      weights_path.string() +
                          ": truncated or altered: " + std::to_string(weights->size()) +
                          " bytes, manifest.json says " + std::to_string(manifest->weights_size));
  }
  // The digest runs beside the decode (start-up waits for the longer of the two, not both). The
  // decoders check every size and index themselves, so decoding bytes the digest may still reject
  // is safe; a mismatch discards the result and is the error reported, as if checked first.
  auto digest = std::async(std::launch::async, [&weights] { return sha256_hex(*weights); });
  auto corrupt = [&]() -> std::optional<Error> {
    if (digest.get() == manifest->weights_sha256) return std::nullopt;
    return make_error(ErrorCode::kDataLoss,
                      weights_path.string() + ": corrupt: SHA-256 does not match manifest.json");
  };
  LoadedArtifact out;
  out.name = manifest->name;
  out.bytes = weights->size();
  if (manifest->info.model_type == "forest") {
    auto forest = decode_forest_weights(*weights, std::move(manifest->info));
    if (auto error = corrupt()) return *error;
    if (!forest) return in_file(weights_path, forest.error());
    out.model = std::make_shared<const RandomForest>(std::move(forest).value());
    return out;
  }
  if (manifest->info.model_type == "cnn") {
    auto cnn = decode_cnn_weights(*weights, std::move(manifest->info));
    if (auto error = corrupt()) return *error;
    if (!cnn) return in_file(weights_path, cnn.error());
    out.model = std::make_shared<const ConvNet>(std::move(cnn).value());
    return out;
  }
  if (auto error = corrupt()) return *error;
  return make_error(ErrorCode::kUnsupported, manifest_path.string() + ": model_type '" +
                                                 manifest->info.model_type + "' is not supported");
}

}  // namespace mls
