// manifest.json, the artifact's description (models/artifact/manifest): whatever it accepts must
// survive a write and a re-read unchanged.

#include <cstddef>
#include <cstdint>

#include "models/artifact/manifest.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mls;
  auto m = manifest_from_json(fuzz::as_text(data, size));
  if (!m) {
    FUZZ_CHECK(m.error().code == ErrorCode::kDataLoss || m.error().code == ErrorCode::kUnsupported);
    return 0;
  }
  auto again = manifest_from_json(manifest_to_json(*m));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->name == m->name);
  FUZZ_CHECK(again->info.model_type == m->info.model_type);
  FUZZ_CHECK(again->info.num_features == m->info.num_features);
  FUZZ_CHECK(again->info.class_names == m->info.class_names);
  FUZZ_CHECK(again->info.feature_names == m->info.feature_names);
  FUZZ_CHECK(again->weights_file == m->weights_file);
  FUZZ_CHECK(again->weights_size == m->weights_size);
  FUZZ_CHECK(again->weights_sha256 == m->weights_sha256);
  return 0;
}
