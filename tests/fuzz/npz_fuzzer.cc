// .npz archives (the CNN's training data) read from bytes with minizip (models/image/npz), every
// member parsed as .npy and turned into images and labels as the training reader does.

#include <cstddef>
#include <cstdint>
#include <string>

#include "models/image/npz.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mls;
  // 64 MiB per member instead of the 2 GiB default, so a tiny archive that honestly declares a
  // huge member does not just exhaust the fuzzer's memory (the limit itself is what is tested).
  constexpr std::size_t kMaxMember = std::size_t{64} << 20;
  auto archive =
      NpzArchive::open_bytes(std::string(fuzz::as_text(data, size)), NpzLimits{kMaxMember});
  if (!archive) {
    FUZZ_CHECK(!archive.error().message.empty());
    return 0;
  }
  std::size_t tried = 0;
  for (const std::string& member : archive->members()) {
    if (++tried > 16) break;
    FUZZ_CHECK(archive->contains(member));
    auto array = archive->read_array(member, NpyLimits{kMaxMember, 8});
    if (!array) continue;
    FUZZ_CHECK(array->data.size() == array->element_count() * array->item_size());
    auto images = npy_to_images(*array, ImageLimits{});
    if (images) {
      const std::size_t n = images->count * images->height * images->width;
      FUZZ_CHECK((images->is_float ? images->f32.size() : images->u8.size()) == n);
    }
    auto labels = npy_to_labels(*array);
    if (labels) FUZZ_CHECK(labels->size() == array->element_count());
  }
  return 0;
}
