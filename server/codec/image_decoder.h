#pragma once
// Image request bodies to model input rows: PNG, JPEG, sniffed raw images, .npy stacks and JSON
// pixel arrays all go through models/image's one preprocessing path, so an image scores the same
// whichever way it arrives.

#include <cstddef>
#include <optional>
#include <string_view>

#include "models/core/matrix.h"
#include "models/core/model.h"
#include "models/core/status.h"

namespace mls::server {

enum class ImageInputFormat { kEncoded, kNpy, kJson };

// The image form a content type names: image/png, image/jpeg and application/x-image (sniffed
// from the bytes) are encoded images; application/x-npy a NumPy array. nullopt: not an image type
// (application/json is image input only when the request is routed to an image model).
std::optional<ImageInputFormat> image_input_format(std::string_view content_type);

// The image form a body's first bytes announce (PNG, JPEG or .npy magic), for a request that names
// no content type; nullopt when they announce none of them.
std::optional<ImageInputFormat> image_format_of_body(std::string_view body);

struct ImageDecodeOptions {
  std::size_t max_images = 100'000;
  std::size_t max_pixels = 40'000'000;  // per image, checked before decoding (decompression bombs)
  std::size_t max_json_depth = 64;      // nesting of arrays/objects in a JSON body
};

// One row of spec.size squared floats per image. Errors: kInvalidArgument with a reason (corrupt,
// truncated, oversized, wrong shape or dtype, pixel out of range), kResourceExhausted (images).
Result<Matrix> decode_images(ImageInputFormat format, std::string_view body,
                             const ImageInputSpec& spec, const ImageDecodeOptions& options);

}  // namespace mls::server
