#pragma once
// cnn.bin: the binary half of a CNN artifact (layout in README "Artifact format"): a 64-byte
// little-endian header naming the architecture, then every parameter as float32 in CnnLayout
// order.

#include <string>
#include <string_view>

#include "models/cnn/conv_net.h"
#include "models/core/status.h"

namespace mls {

inline constexpr std::string_view kCnnWeightsFileName = "cnn.bin";

std::string encode_cnn_weights(const ConvNet& net);

// Checks the magic, version, architecture against the manifest, the byte count, and that every
// weight is finite. Errors: kDataLoss, kUnsupported (another version).
Result<ConvNet> decode_cnn_weights(std::string_view bytes, ModelInfo info);

}  // namespace mls
