#pragma once
// NumPy .npy arrays (format versions 1.0, 2.0, 3.0), parsed defensively from bytes.
// Supported dtypes: uint8 (|u1), float32 (<f4, >f4), float64 (<f8, >f8), int32 (<i4), int64 (<i8).
// C order only (fortran_order True is refused). The shape must account for exactly the bytes
// present.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/status.h"
#include "models/image/image.h"

namespace mls {

enum class NpyDtype { kUint8, kInt32, kInt64, kFloat32, kFloat64 };

struct NpyLimits {
  std::size_t max_bytes = std::size_t{1} << 31;  // data bytes of one array (2 GiB)
  std::size_t max_dims = 8;
};

struct NpyArray {
  NpyDtype dtype = NpyDtype::kUint8;
  std::vector<std::size_t> shape;  // empty = a scalar
  std::string data;                // element bytes in native (little-endian) order, C order

  std::size_t element_count() const;
  std::size_t item_size() const;
};

const char* npy_dtype_name(NpyDtype dtype);

Result<NpyArray> parse_npy(std::string_view bytes, const NpyLimits& limits = {});

// H x W, N x H x W or N x H x W x 1 arrays of uint8 (0..255) or float32/float64 (0..1) -> images.
// Float pixels must be finite and within [0, 1]; the limits bound each image's size.
Result<ImageBatch> npy_to_images(const NpyArray& array, const ImageLimits& limits = {});

// N or N x 1 arrays of uint8/int32/int64 (or integral floats) -> labels.
Result<std::vector<std::int64_t>> npy_to_labels(const NpyArray& array);

}  // namespace mls
