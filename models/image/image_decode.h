#pragma once
// PNG and JPEG bytes -> an 8-bit grayscale image. The format is sniffed from the magic bytes.
//
// Colour to gray: ITU-R BT.601 luma with the same integer rounding as Pillow's Image.convert("L"),
// (19595 R + 38470 G + 7471 B + 32768) >> 16, so images prepared in Python with Pillow match.
// Alpha is ignored (dropped, as Pillow's convert("L") does); palette entries are expanded first;
// 16-bit samples are scaled to 8 bits with rounding; 1/2/4-bit gray is expanded to 0..255.
// JPEG: the decoder's own gray output (the Y channel, which is BT.601 luma); CMYK is refused.
// The pixel budget (limits.max_pixels) is checked from the header before any pixel is decoded.
// Truncated, corrupt or oversized input -> ErrorCode::kInvalidArgument with a reason.

#include <string_view>

#include "models/core/status.h"
#include "models/image/image.h"

namespace mls {

enum class ImageFormat { kUnknown, kPng, kJpeg };

// By magic bytes only.
ImageFormat sniff_image_format(std::string_view bytes);

Result<GrayImage> decode_image(std::string_view bytes, const ImageLimits& limits = {});
Result<GrayImage> decode_png(std::string_view bytes, const ImageLimits& limits = {});
Result<GrayImage> decode_jpeg(std::string_view bytes, const ImageLimits& limits = {});

// "image is 100000x100000 = 10 gigapixels, over the 40-megapixel limit" or an empty Status.
Status check_pixel_budget(std::size_t width, std::size_t height, const ImageLimits& limits);

}  // namespace mls
