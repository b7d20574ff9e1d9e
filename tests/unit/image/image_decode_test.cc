#include "models/image/image_decode.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "image/image_encoders.h"

namespace mls {
namespace {

using testing::encode_jpeg;
using testing::encode_png;
using testing::PngSpec;

std::uint8_t pillow_luma(int r, int g, int b) {
  return static_cast<std::uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

GrayImage decode_ok(const std::string& bytes) {
  auto result = decode_image(bytes);
  if (!result.ok()) {
    ADD_FAILURE() << "unexpected error: " << result.error().message;
    return {};
  }
  return std::move(result).value();
}

std::string decode_error(const std::string& bytes, const ImageLimits& limits = {}) {
  auto result = decode_image(bytes, limits);
  if (result.ok()) {
    ADD_FAILURE() << "decoded " << result->width << "x" << result->height << ", expected an error";
    return {};
  }
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << result.error().message;
  return result.error().message;
}

// A 13x7 pattern that hits many values (odd sizes catch stride mistakes).
constexpr std::uint32_t kW = 13, kH = 7;
int pattern(std::uint32_t x, std::uint32_t y, int channel) {
  return static_cast<int>((x * 37 + y * 91 + static_cast<std::uint32_t>(channel) * 53) % 256);
}

TEST(ImageDecodeTest, SniffsFormats) {
  EXPECT_EQ(sniff_image_format(std::string("\x89PNG\r\n\x1a\n", 8)), ImageFormat::kPng);
  EXPECT_EQ(sniff_image_format("\xff\xd8\xff\xe0"), ImageFormat::kJpeg);
  EXPECT_EQ(sniff_image_format("GIF89a"), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_image_format(""), ImageFormat::kUnknown);
}

TEST(ImageDecodeTest, PngGray8) {
  std::vector<std::uint8_t> pixels;
  for (std::uint32_t y = 0; y < kH; ++y)
    for (std::uint32_t x = 0; x < kW; ++x)
      pixels.push_back(static_cast<std::uint8_t>(pattern(x, y, 0)));
  GrayImage image = decode_ok(testing::encode_gray8_png(kW, kH, pixels));
  EXPECT_EQ(image.width, kW);
  EXPECT_EQ(image.height, kH);
  EXPECT_EQ(image.pixels, pixels);
}

TEST(ImageDecodeTest, PngGray16ScalesWithRounding) {
  PngSpec spec{kW, kH, PNG_COLOR_TYPE_GRAY, 16, false, {}, {}};
  std::vector<std::uint8_t> expected;
  for (std::uint32_t y = 0; y < kH; ++y) {
    for (std::uint32_t x = 0; x < kW; ++x) {
      const unsigned v = (x * 5003u + y * 9109u) % 65536u;
      spec.rows.push_back(static_cast<unsigned char>(v >> 8));
      spec.rows.push_back(static_cast<unsigned char>(v & 0xff));
      expected.push_back(static_cast<std::uint8_t>((v * 255u + 32767u) / 65535u));
    }
  }
  GrayImage image = decode_ok(encode_png(spec));
  ASSERT_EQ(image.pixels.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(image.pixels[i], expected[i], 0) << "pixel " << i;
  }
}

TEST(ImageDecodeTest, PngGray1BitExpandsToFullRange) {
  PngSpec spec{8, 2, PNG_COLOR_TYPE_GRAY, 1, false, {0b10100000, 0b00000001}, {}};
  GrayImage image = decode_ok(encode_png(spec));
  EXPECT_EQ(image.pixels, (std::vector<std::uint8_t>{255, 0, 255, 0, 0, 0, 0, 0,  //
                                                     0, 0, 0, 0, 0, 0, 0, 255}));
}

TEST(ImageDecodeTest, PngRgbAndRgbaUseBt601LumaAndIgnoreAlpha) {
  for (const bool alpha : {false, true}) {
    const int channels = alpha ? 4 : 3;
    PngSpec spec{kW, kH, alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB, 8, false, {}, {}};
    std::vector<std::uint8_t> expected;
    for (std::uint32_t y = 0; y < kH; ++y) {
      for (std::uint32_t x = 0; x < kW; ++x) {
        for (int c = 0; c < channels; ++c)
          spec.rows.push_back(static_cast<unsigned char>(pattern(x, y, c)));
        expected.push_back(pillow_luma(pattern(x, y, 0), pattern(x, y, 1), pattern(x, y, 2)));
      }
    }
    GrayImage image = decode_ok(encode_png(spec));
    EXPECT_EQ(image.pixels, expected) << (alpha ? "RGBA" : "RGB");
  }
  // The luma weights themselves: pure red, green, blue and white.
  PngSpec spec{4, 1, PNG_COLOR_TYPE_RGB, 8, false, {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255},
               {}};
  EXPECT_EQ(decode_ok(encode_png(spec)).pixels, (std::vector<std::uint8_t>{76, 150, 29, 255}));
}

TEST(ImageDecodeTest, PngRgb16) {
  PngSpec spec{2, 1, PNG_COLOR_TYPE_RGB, 16, false, {}, {}};
  const unsigned values[6] = {65535, 0, 0, 257 * 10, 257 * 20, 257 * 30};
  for (unsigned v : values) {
    spec.rows.push_back(static_cast<unsigned char>(v >> 8));
    spec.rows.push_back(static_cast<unsigned char>(v & 0xff));
  }
  EXPECT_EQ(decode_ok(encode_png(spec)).pixels,
            (std::vector<std::uint8_t>{pillow_luma(255, 0, 0), pillow_luma(10, 20, 30)}));
}

TEST(ImageDecodeTest, PngPalette) {
  PngSpec spec{kW, kH, PNG_COLOR_TYPE_PALETTE, 8, false, {}, {}};
  for (int i = 0; i < 16; ++i) {
    spec.palette.push_back(png_color{static_cast<png_byte>(i * 16),
                                     static_cast<png_byte>(255 - i * 9),
                                     static_cast<png_byte>(i * 5)});
  }
  std::vector<std::uint8_t> expected;
  for (std::uint32_t y = 0; y < kH; ++y) {
    for (std::uint32_t x = 0; x < kW; ++x) {
      const int index = pattern(x, y, 0) % 16;
      spec.rows.push_back(static_cast<unsigned char>(index));
      const png_color c = spec.palette[static_cast<std::size_t>(index)];
      expected.push_back(pillow_luma(c.red, c.green, c.blue));
    }
  }
  EXPECT_EQ(decode_ok(encode_png(spec)).pixels, expected);
}

TEST(ImageDecodeTest, PngInterlaced) {
  PngSpec spec{kW, kH, PNG_COLOR_TYPE_GRAY, 8, true, {}, {}};
  for (std::uint32_t y = 0; y < kH; ++y)
    for (std::uint32_t x = 0; x < kW; ++x)
      spec.rows.push_back(static_cast<unsigned char>(pattern(x, y, 0)));
  EXPECT_EQ(decode_ok(encode_png(spec)).pixels, spec.rows);
}

// A PNG signature and an IHDR claiming width x height (valid CRC), then an IEND: no pixel data.
std::string png_header_only(std::uint32_t width, std::uint32_t height) {
  std::string ihdr = "IHDR";
  for (std::uint32_t v : {width, height}) {
    for (int shift = 24; shift >= 0; shift -= 8)
      ihdr += static_cast<char>((v >> shift) & 0xff);
  }
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit gray, deflate, no filter, no interlace
  auto chunk = [](const std::string& type_and_data) {
    std::string out;
    const auto length = static_cast<std::uint32_t>(type_and_data.size() - 4);
    for (int shift = 24; shift >= 0; shift -= 8)
      out += static_cast<char>((length >> shift) & 0xff);
    out += type_and_data;
    const auto crc =
        static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(type_and_data.data()),
                                         static_cast<uInt>(type_and_data.size())));
    for (int shift = 24; shift >= 0; shift -= 8)
      out += static_cast<char>((crc >> shift) & 0xff);
    return out;
  };
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk(ihdr) + chunk("IEND");
}

TEST(ImageDecodeTest, PngBombRefusedFromHeader) {
  const auto start = std::chrono::steady_clock::now();
  const std::string message = decode_error(png_header_only(100000, 100000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_NE(message.find("100000x100000 = 10 gigapixels"), std::string::npos) << message;
  EXPECT_NE(message.find("over the 40-megapixel limit"), std::string::npos) << message;
  // Within the budget, the same empty file fails for want of data instead.
  EXPECT_NE(decode_error(png_header_only(100, 100)).find("PNG"), std::string::npos);
}

TEST(ImageDecodeTest, PixelBudgetIsConfigurable) {
  const std::string png = testing::encode_gray8_png(10, 10, std::vector<std::uint8_t>(100, 7));
  EXPECT_TRUE(decode_image(png, ImageLimits{100}).ok());
  EXPECT_NE(decode_error(png, ImageLimits{99}).find("10x10"), std::string::npos);
}

TEST(ImageDecodeTest, TruncatedPngRefused) {
  std::vector<std::uint8_t> pixels(64 * 64);
  std::mt19937 rng(7);
  for (auto& p : pixels)
    p = static_cast<std::uint8_t>(rng());
  const std::string png = testing::encode_gray8_png(64, 64, pixels);
  ASSERT_TRUE(decode_image(png).ok());
  for (std::size_t cut :
       {png.size() / 2, png.size() - 13, png.size() - 1, std::size_t{20}, std::size_t{8}}) {
    const std::string message = decode_error(png.substr(0, cut));
    EXPECT_NE(message.find("truncated PNG"), std::string::npos) << cut << ": " << message;
  }
}

TEST(ImageDecodeTest, CorruptPngRefused) {
  const std::string png = testing::encode_gray8_png(16, 16, std::vector<std::uint8_t>(256, 100));
  std::string bad = png;
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x55);  // breaks a CRC
  EXPECT_NE(decode_error(bad).find("PNG"), std::string::npos);
}

std::vector<std::uint8_t> smooth_gray(int width, int height) {
  std::vector<std::uint8_t> pixels;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      pixels.push_back(static_cast<std::uint8_t>(30 + x * 2 + y));
  return pixels;
}

TEST(ImageDecodeTest, JpegGrayQuality95WithinAFewLevels) {
  const std::vector<std::uint8_t> pixels = smooth_gray(64, 48);
  const std::string jpeg = encode_jpeg(64, 48, pixels, TJPF_GRAY, TJSAMP_GRAY, 95);
  ASSERT_FALSE(jpeg.empty());
  GrayImage image = decode_ok(jpeg);
  ASSERT_EQ(image.width, 64u);
  ASSERT_EQ(image.height, 48u);
  for (std::size_t i = 0; i < pixels.size(); ++i)
    EXPECT_NEAR(image.pixels[i], pixels[i], 3) << i;
}

TEST(ImageDecodeTest, JpegColourBecomesLuma) {
  const int w = 40, h = 30;
  std::vector<std::uint8_t> rgb;
  std::vector<int> expected;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int r = 60 + 3 * x, g = 100 + y, b = 200 - 2 * x;
      rgb.insert(rgb.end(), {static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g),
                             static_cast<std::uint8_t>(b)});
      expected.push_back(pillow_luma(r, g, b));
    }
  }
  GrayImage image = decode_ok(encode_jpeg(w, h, rgb, TJPF_RGB, TJSAMP_420, 95));
  ASSERT_EQ(image.pixels.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(image.pixels[i], expected[i], 3) << i;
}

TEST(ImageDecodeTest, TruncatedJpegRefused) {
  const std::string jpeg = encode_jpeg(64, 48, smooth_gray(64, 48), TJPF_GRAY, TJSAMP_GRAY, 95);
  ASSERT_TRUE(decode_image(jpeg).ok());
  for (std::size_t cut : {jpeg.size() / 2, jpeg.size() - 2, std::size_t{40}, std::size_t{4}}) {
    const std::string message = decode_error(jpeg.substr(0, cut));
    EXPECT_NE(message.find("JPEG"), std::string::npos) << cut << ": " << message;
  }
  EXPECT_NE(decode_error(jpeg.substr(0, jpeg.size() / 2)).find("truncated JPEG"),
            std::string::npos);
}

TEST(ImageDecodeTest, JpegBombRefusedFromHeader) {
  std::string jpeg = encode_jpeg(16, 16, smooth_gray(16, 16), TJPF_GRAY, TJSAMP_GRAY, 90);
  const std::size_t sof = jpeg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  // SOF0: marker, length (2), precision (1), height (2), width (2).
  jpeg[sof + 5] = '\xea', jpeg[sof + 6] = '\x60';  // 60000
  jpeg[sof + 7] = '\xea', jpeg[sof + 8] = '\x60';
  const auto start = std::chrono::steady_clock::now();
  const std::string message = decode_error(jpeg);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_NE(message.find("60000x60000 = 3.6 gigapixels, over the 40-megapixel limit"),
            std::string::npos)
      << message;
}

TEST(ImageDecodeTest, RandomBytesRefused) {
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    std::string bytes(static_cast<std::size_t>(rng() % 2000), '\0');
    for (auto& c : bytes)
      c = static_cast<char>(rng());
    decode_error(bytes);
    decode_error(std::string("\x89PNG\r\n\x1a\n", 8) + bytes);
    decode_error("\xff\xd8\xff" + bytes);
  }
  EXPECT_EQ(decode_error(""), "empty image");
  EXPECT_NE(decode_error("hello, world").find("not a PNG or JPEG"), std::string::npos);
}

// Damaged copies of valid files: each must decode or fail cleanly (the ASan build checks memory).
TEST(ImageDecodeTest, MutatedFilesFailCleanly) {
  PngSpec rgba{24, 16, PNG_COLOR_TYPE_RGB_ALPHA, 8, true, {}, {}};
  for (std::size_t i = 0; i < 24u * 16u * 4u; ++i)
    rgba.rows.push_back(static_cast<unsigned char>(i * 7));
  const std::vector<std::string> originals = {
      encode_png(rgba), testing::encode_gray8_png(16, 16, smooth_gray(16, 16)),
      encode_jpeg(32, 24, smooth_gray(32, 24), TJPF_GRAY, TJSAMP_GRAY, 80)};
  std::mt19937 rng(99);
  int failures = 0;
  for (const std::string& original : originals) {
    ASSERT_FALSE(original.empty());
    for (int round = 0; round < 300; ++round) {
      std::string bytes = original;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
      if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
      auto result = decode_image(bytes);
      if (!result.ok()) {
        ++failures;
        EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
      } else {
        EXPECT_EQ(result->pixels.size(), result->width * result->height);
      }
    }
  }
  EXPECT_GT(failures, 0);
}

}  // namespace
}  // namespace mls
