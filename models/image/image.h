#pragma once
// Grayscale images as they leave the decoders (PNG/JPEG, .npy) and enter the one preprocessing
// path.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mls {

// A read-only row-major grayscale view: either 8-bit (0..255) or float (0..1) pixels, never both.
struct GrayView {
  const std::uint8_t* u8 = nullptr;
  const float* f32 = nullptr;
  std::size_t width = 0;
  std::size_t height = 0;
};

// An owned 8-bit grayscale image (what decode_image returns), row-major, width*height bytes.
struct GrayImage {
  std::size_t width = 0;
  std::size_t height = 0;
  std::vector<std::uint8_t> pixels;

  GrayView view() const { return GrayView{pixels.data(), nullptr, width, height}; }
};

// A stack of same-size grayscale images (what a .npy array becomes): uint8 0..255 or float 0..1.
struct ImageBatch {
  bool is_float = false;
  std::size_t count = 0;
  std::size_t height = 0;
  std::size_t width = 0;
  std::vector<std::uint8_t> u8;  // count*height*width when !is_float
  std::vector<float> f32;        // count*height*width when is_float

  GrayView image(std::size_t i) const {
    const std::size_t offset = i * height * width;
    return is_float ? GrayView{nullptr, f32.data() + offset, width, height}
                    : GrayView{u8.data() + offset, nullptr, width, height};
  }
};

// Limits checked before anything large is allocated (decompression bombs).
struct ImageLimits {
  std::size_t max_pixels = 40'000'000;  // width*height of one decoded image
};

}  // namespace mls
