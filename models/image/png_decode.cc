// PNG -> 8-bit gray with libpng. libpng reports errors by longjmp back to a setjmp; the functions
// that call setjmp below hold only plain data (no C++ object with a destructor lives in a frame a
// longjmp crosses), and everything owned (buffers, the png struct) lives in decode_png's frame.

#include <png.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "models/image/image_decode.h"

namespace mls {
namespace {

// What libpng's callbacks read and write. Plain data only.
struct PngSource {
  const unsigned char* data;
  std::size_t size;
  std::size_t pos;
  bool truncated;
  char message[256];
};

void on_png_read(png_structp png, png_bytep out, size_t length) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (length > src->size - src->pos) {
    src->truncated = true;
    png_error(png, "truncated PNG");
  }
  std::memcpy(out, src->data + src->pos, length);
  src->pos += length;
}

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", message ? message : "unknown error");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

// Owns the libpng structs; destroyed in decode_png's frame, which no longjmp crosses.
struct PngReader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReader() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
  }
};

struct PngHeader {
  png_uint_32 width;
  png_uint_32 height;
  int channels;   // after the transforms below: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bit_depth;  // after the transforms below: 8
  int passes;     // 1, or 7 when interlaced
  std::size_t rowbytes;
};

// Reads the chunks before the image data and sets the transforms. No pixel is decoded here.
__attribute__((noinline)) bool png_read_header(png_structp png, png_infop info, PngHeader* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) png_set_scale_16(png);
  out->passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->width = png_get_image_width(png, info);
  out->height = png_get_image_height(png, info);
  out->channels = png_get_channels(png, info);
  out->bit_depth = png_get_bit_depth(png, info);
  out->rowbytes = png_get_rowbytes(png, info);
  return true;
}

// Pillow's ITU-R BT.601 luma ("L" mode) rounding; alpha, when present, is ignored.
inline std::uint8_t luma(unsigned r, unsigned g, unsigned b) {
  return static_cast<std::uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

void row_to_gray(const unsigned char* row, int channels, std::size_t width, std::uint8_t* out) {
  switch (channels) {
    case 1:
      std::memcpy(out, row, width);
      break;
    case 2:
      for (std::size_t x = 0; x < width; ++x)
        out[x] = row[2 * x];
      break;
    default:  // 3 or 4
      for (std::size_t x = 0; x < width; ++x) {
        const unsigned char* p = row + x * static_cast<std::size_t>(channels);
        out[x] = luma(p[0], p[1], p[2]);
      }
      break;
  }
}

// Decodes the pixels. Not interlaced: rows[0] is one scratch row, converted row by row.
// Interlaced: rows holds `height` pointers into a whole-image buffer.
__attribute__((noinline)) bool png_read_pixels(png_structp png, const PngHeader* h, png_bytep* rows,
                                               std::uint8_t* gray) {
  if (setjmp(png_jmpbuf(png))) return false;
  if (h->passes == 1) {
    for (png_uint_32 y = 0; y < h->height; ++y) {
      png_read_row(png, rows[0], nullptr);
      row_to_gray(rows[0], h->channels, h->width, gray + static_cast<std::size_t>(y) * h->width);
    }
  } else {
    png_read_image(png, rows);
    for (png_uint_32 y = 0; y < h->height; ++y) {
      row_to_gray(rows[y], h->channels, h->width, gray + static_cast<std::size_t>(y) * h->width);
    }
  }
  png_read_end(png, nullptr);  // the chunks after the image data, through IEND: catches truncation
  return true;
}

Error png_failure(const PngSource& src) {
  if (src.truncated) return make_error(ErrorCode::kInvalidArgument, "truncated PNG");
  return make_error(ErrorCode::kInvalidArgument, std::string("corrupt PNG: ") + src.message);
}

}  // namespace

Result<GrayImage> decode_png(std::string_view bytes, const ImageLimits& limits) {
  PngSource src{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0, false, {}};
  if (bytes.size() < 8 || png_sig_cmp(src.data, 0, 8) != 0) {
    return make_error(ErrorCode::kInvalidArgument, "not a PNG image (bad signature)");
  }
  // The budget, straight from the IHDR bytes (always the first chunk) before libpng sees anything.
  if (bytes.size() >= 24 && std::memcmp(src.data + 12, "IHDR", 4) == 0) {
    auto be32 = [&](std::size_t at) {
      return (std::uint32_t{src.data[at]} << 24) | (std::uint32_t{src.data[at + 1]} << 16) |
             (std::uint32_t{src.data[at + 2]} << 8) | std::uint32_t{src.data[at + 3]};
    };
    if (Status budget = check_pixel_budget(be32(16), be32(20), limits); !budget.ok()) {
      return budget.error();
    }
  }
  PngReader reader;
  reader.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_png_error, on_png_warning);
  if (reader.png == nullptr) return make_error(ErrorCode::kInternal, "libpng: out of memory");
  reader.info = png_create_info_struct(reader.png);
  if (reader.info == nullptr) return make_error(ErrorCode::kInternal, "libpng: out of memory");
  png_set_read_fn(reader.png, &src, on_png_read);

  PngHeader header{};
  if (!png_read_header(reader.png, reader.info, &header)) return png_failure(src);
  if (Status budget = check_pixel_budget(header.width, header.height, limits);
      !budget.ok()) {  // again, as libpng read it
    return budget.error();
  }
  if (header.bit_depth != 8 || header.channels < 1 || header.channels > 4 ||
      header.rowbytes < static_cast<std::size_t>(header.width) * header.channels) {
    return make_error(ErrorCode::kInvalidArgument, "unsupported PNG pixel layout");
  }

  GrayImage image;
  image.width = header.width;
  image.height = header.height;
  image.pixels.resize(image.width * image.height);
  std::vector<unsigned char> buffer;
  std::vector<png_bytep> rows;
  if (header.passes == 1) {
    buffer.resize(header.rowbytes);
    rows.assign(1, buffer.data());
  } else {
    buffer.resize(header.rowbytes * header.height);
    rows.resize(header.height);
    for (std::size_t y = 0; y < header.height; ++y)
      rows[y] = buffer.data() + y * header.rowbytes;
  }
  if (!png_read_pixels(reader.png, &header, rows.data(), image.pixels.data())) {
    return png_failure(src);
  }
  return image;
}

}  // namespace mls
