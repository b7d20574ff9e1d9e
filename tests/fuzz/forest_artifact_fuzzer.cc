// forest.bin, the forest's weights (models/forest/forest_io), decoded from bytes and, when
// accepted, used for predictions: whatever the decoder accepts must be safe to walk.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "models/forest/forest_io.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mls;
  // The manifest half: take the class and feature counts from the header (bytes 12..19), within
  // small bounds, so the fuzzer gets past the manifest cross-check and into the arrays.
  std::uint32_t classes = 2;
  std::uint32_t features = 8;
  if (size >= 20) {
    std::memcpy(&classes, data + 12, 4);
    std::memcpy(&features, data + 16, 4);
  }
  ModelInfo info;
  info.model_type = "forest";
  info.num_features = std::clamp<std::uint32_t>(features, 0, 64);
  for (std::uint32_t c = 0; c < std::clamp<std::uint32_t>(classes, 0, 16); ++c) {
    info.class_labels.push_back(c);
    info.class_names.push_back(std::to_string(c));
  }
  auto forest = decode_forest_weights(fuzz::as_text(data, size), info);
  if (!forest) {
    FUZZ_CHECK(forest.error().code == ErrorCode::kDataLoss ||
               forest.error().code == ErrorCode::kUnsupported);
    return 0;
  }
  // Three rows: zeros, large negative, large positive values.
  const std::size_t n = 3;
  Matrix x;
  x.rows = n;
  x.cols = info.num_features;
  x.values.assign(n * x.cols, 0.0f);
  for (std::size_t j = 0; j < x.cols; ++j) {
    x.values[x.cols + j] = -1e30f;
    x.values[2 * x.cols + j] = 1e30f;
  }
  std::vector<float> proba(n * forest->num_classes());
  forest->predict_proba(x.view(), proba);
  // Re-encoding what was accepted gives back the same bytes.
  FUZZ_CHECK(encode_forest_weights(*forest) == fuzz::as_text(data, size));
  return 0;
}
