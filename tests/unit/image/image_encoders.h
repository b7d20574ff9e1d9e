#pragma once
// Test-only encoders: PNG (libpng), JPEG (TurboJPEG), .npy and zip (minizip), all into memory.

#include <png.h>
#include <turbojpeg.h>
#include <zip.h>  // minizip's writer

#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace mls::testing {

struct PngSpec {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  int color_type = PNG_COLOR_TYPE_GRAY;
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<unsigned char> rows;  // packed rows as PNG stores them (16-bit: big-endian)
  std::vector<png_color> palette;   // for PNG_COLOR_TYPE_PALETTE
};

namespace detail {
inline void append_png(png_structp png, png_bytep data, size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))
      ->append(reinterpret_cast<const char*>(data), length);
}
inline void flush_png(png_structp) {}

// No C++ objects with destructors in here: libpng errors longjmp back to it.
inline bool write_png_core(png_structp png, png_infop info, const PngSpec* spec, std::string* out,
                           png_bytep* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, out, append_png, flush_png);
  png_set_IHDR(png, info, spec->width, spec->height, spec->bit_depth, spec->color_type,
               spec->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (spec->color_type == PNG_COLOR_TYPE_PALETTE) {
    png_set_PLTE(png, info, spec->palette.data(), static_cast<int>(spec->palette.size()));
  }
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}
}  // namespace detail

inline std::string encode_png(const PngSpec& spec) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  const std::size_t rowbytes = spec.rows.size() / spec.height;
  std::vector<png_bytep> rows(spec.height);
  for (std::size_t y = 0; y < spec.height; ++y) {
    rows[y] = const_cast<png_bytep>(spec.rows.data() + y * rowbytes);
  }
  const bool ok = detail::write_png_core(png, info, &spec, &out, rows.data());
  png_destroy_write_struct(&png, &info);
  return ok ? out : std::string();
}

inline std::string encode_gray8_png(std::uint32_t width, std::uint32_t height,
                                    const std::vector<std::uint8_t>& pixels) {
  PngSpec spec;
  spec.width = width;
  spec.height = height;
  spec.rows.assign(pixels.begin(), pixels.end());
  return encode_png(spec);
}

// pixel_format: TJPF_GRAY or TJPF_RGB; subsampling TJSAMP_GRAY / TJSAMP_444 ...
inline std::string encode_jpeg(int width, int height, const std::vector<std::uint8_t>& pixels,
                               int pixel_format, int subsampling, int quality) {
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  std::string out;
  if (tjCompress2(tj, pixels.data(), width, 0, height, pixel_format, &buf, &size, subsampling,
                  quality, 0) == 0) {
    out.assign(reinterpret_cast<const char*>(buf), size);
  }
  tjFree(buf);
  tjDestroy(tj);
  return out;
}

// A version 1.0 .npy with the given descr and shape, padded as NumPy pads it.
inline std::string npy_bytes(const std::string& descr, const std::vector<std::size_t>& shape,
                             std::string_view data, bool fortran = false) {
  std::string dims;
  for (std::size_t d : shape)
    dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  if (shape.size() == 1) dims.resize(dims.size() - 1);
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': (" +
                       dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(data);
  return out;
}

inline std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes a zip at `path` with the members given, each stored or deflated.
inline bool write_zip(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, std::string>>& members,
                      bool deflate) {
  zipFile zip = zipOpen64(path.c_str(), APPEND_STATUS_CREATE);
  if (zip == nullptr) return false;
  bool ok = true;
  for (const auto& [name, data] : members) {
    zip_fileinfo info{};
    ok = zipOpenNewFileInZip64(zip, name.c_str(), &info, nullptr, 0, nullptr, 0, nullptr,
                               deflate ? Z_DEFLATED : 0, deflate ? Z_DEFAULT_COMPRESSION : 0,
                               /*zip64=*/1) == ZIP_OK &&
         zipWriteInFileInZip(zip, data.data(), static_cast<unsigned>(data.size())) == ZIP_OK &&
         zipCloseFileInZip(zip) == ZIP_OK;
    if (!ok) break;
  }
  return zipClose(zip, nullptr) == ZIP_OK && ok;
}

}  // namespace mls::testing
