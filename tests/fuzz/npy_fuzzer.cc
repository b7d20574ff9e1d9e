// .npy request bodies (application/x-npy) through the server's decoder, plus the label reader the
// CNN's training uses on .npy arrays (models/image/npy).

#include <cstddef>
#include <cstdint>

#include "models/image/npy.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/image_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mls;
  const std::string_view body = fuzz::as_text(data, size);
  fuzz::decode_and_check(server::ImageInputFormat::kNpy, body);

  auto array = parse_npy(body, NpyLimits{body.size(), 8});
  if (!array) return 0;
  FUZZ_CHECK(array->shape.size() <= 8);
  FUZZ_CHECK(array->data.size() == array->element_count() * array->item_size());
  auto labels = npy_to_labels(*array);
  if (labels) FUZZ_CHECK(labels->size() == array->element_count());
  return 0;
}
