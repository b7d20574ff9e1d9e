// cnn.bin, the CNN's weights (models/cnn/cnn_io), decoded from bytes and, when accepted, run on
// one image: whatever the decoder accepts must be safe to evaluate.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "models/cnn/cnn_io.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mls;
  // The manifest half: input side and class count from the header (bytes 12..19), bounded like
  // manifest.json bounds them (at most 4096 a side; here 64 to keep runs fast).
  std::uint32_t side = 28;
  std::uint32_t classes = 2;
  if (size >= 20) {
    std::memcpy(&side, data + 12, 4);
    std::memcpy(&classes, data + 16, 4);
  }
  ModelInfo info;
  info.model_type = "cnn";
  info.input_kind = InputKind::kImage;
  info.image.size = std::clamp<std::uint32_t>(side, 1, 64);
  info.num_features = info.image.size * info.image.size;
  for (std::uint32_t c = 0; c < std::clamp<std::uint32_t>(classes, 0, 16); ++c) {
    info.class_labels.push_back(c);
    info.class_names.push_back(std::to_string(c));
  }
  auto net = decode_cnn_weights(fuzz::as_text(data, size), info);
  if (!net) {
    FUZZ_CHECK(net.error().code == ErrorCode::kDataLoss ||
               net.error().code == ErrorCode::kUnsupported ||
               net.error().code == ErrorCode::kInvalidArgument);
    return 0;
  }
  Matrix x;
  x.rows = 1;
  x.cols = info.num_features;
  x.values.assign(x.cols, 0.5f);
  std::vector<float> proba(net->num_classes());
  net->predict_proba(x.view(), proba);
  // Re-encoding gives the same bytes, but for the header's reserved words (bytes 36..63), which
  // the reader ignores and the writer zeroes.
  std::string expected(fuzz::as_text(data, size));
  std::fill(expected.begin() + 36, expected.begin() + 64, '\0');
  FUZZ_CHECK(encode_cnn_weights(*net) == expected);
  return 0;
}
