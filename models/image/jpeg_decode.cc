// JPEG -> 8-bit gray with libjpeg-turbo's TurboJPEG API (no setjmp on our side).

#include <turbojpeg.h>

#include <climits>
#include <cstring>
#include <string>

#include "models/image/image_decode.h"

namespace mls {
namespace {

struct TjHandle {
  tjhandle handle = tjInitDecompress();
  ~TjHandle() {
    if (handle != nullptr) tjDestroy(handle);
  }
};

Error jpeg_failure(tjhandle handle) {
  const std::string message = tjGetErrorStr2(handle);
  // libjpeg's JWRN_JPEG_EOF, and what it says when the data stops inside the headers.
  if (message.find("Premature end") != std::string::npos ||
      message.find("empty") != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "truncated JPEG (" + message + ")");
  }
  return make_error(ErrorCode::kInvalidArgument, "corrupt JPEG: " + message);
}

}  // namespace

Result<GrayImage> decode_jpeg(std::string_view bytes, const ImageLimits& limits) {
  if (bytes.size() > ULONG_MAX) return make_error(ErrorCode::kInvalidArgument, "JPEG too large");
  TjHandle tj;
  if (tj.handle == nullptr) return make_error(ErrorCode::kInternal, "TurboJPEG: cannot initialise");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto size = static_cast<unsigned long>(bytes.size());
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.handle, data, size, &width, &height, &subsampling, &colorspace) != 0) {
    return jpeg_failure(tj.handle);
  }
  if (width <= 0 || height <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "corrupt JPEG: no image size in the header");
  }
  if (Status budget = check_pixel_budget(static_cast<std::size_t>(width),
                                         static_cast<std::size_t>(height), limits);
      !budget.ok()) {
    return budget.error();
  }
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    return make_error(ErrorCode::kInvalidArgument, "CMYK JPEG images are not supported");
  }
  GrayImage image;
  image.width = static_cast<std::size_t>(width);
  image.height = static_cast<std::size_t>(height);
  image.pixels.resize(image.width * image.height);
  // Warnings (e.g. premature end of data, which libjpeg would fill with gray) are failures here;
  // progressive scans are capped (a scan-count bomb otherwise costs minutes of CPU).
  if (tjDecompress2(tj.handle, data, size, image.pixels.data(), width, 0, height, TJPF_GRAY,
                    TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0) {
    return jpeg_failure(tj.handle);
  }
  return image;
}

}  // namespace mls
