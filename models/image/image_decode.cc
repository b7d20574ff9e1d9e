#include "models/image/image_decode.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace mls {

ImageFormat sniff_image_format(std::string_view bytes) {
  static constexpr unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= sizeof kPng && std::memcmp(bytes.data(), kPng, sizeof kPng) == 0) {
    return ImageFormat::kPng;
  }
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xff &&
      static_cast<unsigned char>(bytes[1]) == 0xd8 &&
      static_cast<unsigned char>(bytes[2]) == 0xff) {
    return ImageFormat::kJpeg;
  }
  return ImageFormat::kUnknown;
}

Result<GrayImage> decode_image(std::string_view bytes, const ImageLimits& limits) {
  switch (sniff_image_format(bytes)) {
    case ImageFormat::kPng:
      return decode_png(bytes, limits);
    case ImageFormat::kJpeg:
      return decode_jpeg(bytes, limits);
    case ImageFormat::kUnknown:
      break;
  }
  if (bytes.empty()) return make_error(ErrorCode::kInvalidArgument, "empty image");
  return make_error(ErrorCode::kInvalidArgument,
                    "not a PNG or JPEG image (unrecognised magic bytes)");
}

namespace {

// "10 gigapixels", "52.4 megapixels"; as a limit: "40-megapixel".
std::string format_pixels(double pixels, bool as_limit) {
  const bool giga = pixels >= 1e9;
  char buf[64];
  std::snprintf(buf, sizeof buf, as_limit ? "%.3g-%s" : "%.3g %ss", pixels / (giga ? 1e9 : 1e6),
                giga ? "gigapixel" : "megapixel");
  return buf;
}

}  // namespace

Status check_pixel_budget(std::size_t width, std::size_t height, const ImageLimits& limits) {
  if (width == 0 || height == 0) {
    return make_error(ErrorCode::kInvalidArgument, "image has no pixels (" + std::to_string(width) +
                                                       "x" + std::to_string(height) + ")");
  }
  const double pixels = static_cast<double>(width) * static_cast<double>(height);
  if (pixels > static_cast<double>(limits.max_pixels)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "image is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                          format_pixels(pixels, false) + ", over the " +
                          format_pixels(static_cast<double>(limits.max_pixels), true) + " limit");
  }
  return Ok{};
}

}  // namespace mls
