#pragma once
// Saving and loading a model directory (manifest.json + weights), whatever the model type.

#include <cstdint>
#include <filesystem>
#include <string>

#include "models/core/model.h"
#include "models/core/status.h"

namespace mls {

struct LoadedArtifact {
  ModelPtr model;
  std::string name;         // from the manifest; may be empty
  std::uint64_t bytes = 0;  // the weights file's size: roughly what the model holds in memory
};

// Writes the weights, then the manifest, each atomically: a run killed half-way leaves either no
// manifest or a manifest whose checksum does not match, never a model that loads wrongly.
Status save_model(const std::filesystem::path& dir, const Model& model, const std::string& name);

// Errors name the file and the problem: kNotFound (no manifest), kDataLoss (truncated, corrupt,
// checksum), kUnsupported (format version or model type).
Result<LoadedArtifact> load_model(const std::filesystem::path& dir);

// Whether dir holds a manifest (is one model rather than a folder of models).
bool is_model_dir(const std::filesystem::path& dir);

std::string_view product_version();

}  // namespace mls
