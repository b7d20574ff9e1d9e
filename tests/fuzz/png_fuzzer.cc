// PNG request bodies (image/png) through the server's decoder: libpng via models/image, then the
// one preprocessing path.

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/image_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mls::fuzz::decode_and_check(mls::server::ImageInputFormat::kEncoded,
                              mls::fuzz::as_text(data, size));
  return 0;
}
