#pragma once
// manifest.json: the small, human-readable half of a model artifact (see README "Artifact format").

#include <cstdint>
#include <string>
#include <string_view>

#include "models/core/model.h"
#include "models/core/status.h"

namespace mls {

inline constexpr std::string_view kManifestFileName = "manifest.json";
inline constexpr std::string_view kArtifactFormat = "mls-model";
inline constexpr int kArtifactFormatVersion = 1;

struct Manifest {
  int format_version = kArtifactFormatVersion;
  std::string name;  // may be empty; the server then names the model after its directory
  std::string created_by;
  ModelInfo info;
  std::string weights_file;
  std::uint64_t weights_size = 0;
  std::string weights_sha256;
};

std::string manifest_to_json(const Manifest& manifest);

// Validates everything (format, version, types, class counts). Errors: kDataLoss for a malformed
// or inconsistent manifest, kUnsupported for another format version; messages do not name the
// file (the caller does).
Result<Manifest> manifest_from_json(std::string_view text);

}  // namespace mls
