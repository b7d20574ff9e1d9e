#pragma once
// forest.bin: the binary half of a forest artifact (layout in README "Artifact format").

#include <string>
#include <string_view>

#include "models/core/status.h"
#include "models/forest/forest.h"

namespace mls {

inline constexpr std::string_view kForestWeightsFileName = "forest.bin";

std::string encode_forest_weights(const RandomForest& forest);

// Checks the magic, version, every length against the byte count, and every index (through
// RandomForest::create). Errors: kDataLoss, kUnsupported (another version).
Result<RandomForest> decode_forest_weights(std::string_view bytes, ModelInfo info);

}  // namespace mls
