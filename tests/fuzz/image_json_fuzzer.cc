// JSON pixel arrays sent to an image model ({"instances": [H x W arrays]}, one bare H x W array)
// through the server's image decoder.

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/image_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mls::fuzz::decode_and_check(mls::server::ImageInputFormat::kJson, mls::fuzz::as_text(data, size));
  return 0;
}
