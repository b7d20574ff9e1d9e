#include "models/image/preprocess.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "image/image_encoders.h"
#include "models/image/image_decode.h"
#include "models/image/npy.h"

namespace mls {
namespace {

std::vector<float> run(const GrayView& view, const PreprocessSpec& spec = {}) {
  std::vector<float> out(spec.size * spec.size);
  Status status = preprocess_image(view, spec, out);
  EXPECT_TRUE(status.ok()) << status.error().message;
  return out;
}

std::vector<std::uint8_t> random_pixels(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> pixels(n);
  for (auto& p : pixels)
    p = static_cast<std::uint8_t>(rng());
  return pixels;
}

TEST(PreprocessTest, SameSizeUint8IsExactlyPixelOver255) {
  const auto pixels = random_pixels(28 * 28, 1);
  const auto out = run(GrayView{pixels.data(), nullptr, 28, 28});
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    EXPECT_EQ(out[i], static_cast<float>(pixels[i]) / 255.0f) << i;
  }
}

TEST(PreprocessTest, HalvingAveragesTwoByTwoBlocks) {
  const auto blocks = random_pixels(28 * 28, 2);
  std::vector<std::uint8_t> big(56 * 56);
  for (std::size_t y = 0; y < 56; ++y)
    for (std::size_t x = 0; x < 56; ++x)
      big[y * 56 + x] = blocks[(y / 2) * 28 + x / 2];
  const auto out = run(GrayView{big.data(), nullptr, 56, 56});
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(out[i], static_cast<float>(blocks[i]) / 255.0f) << i;
  }
}

TEST(PreprocessTest, AreaAveragingMeansTheCoveredPixels) {
  // 4x1 -> 2x2 (width shrinks, height enlarges): a constant column stays, rows average pairs.
  const std::vector<std::uint8_t> pixels = {0, 255, 51, 102};
  const auto out = run(GrayView{pixels.data(), nullptr, 4, 1}, PreprocessSpec{2, 0.0f, 1.0f});
  EXPECT_FLOAT_EQ(out[0], 0.5f);
  EXPECT_FLOAT_EQ(out[1], 0.3f);
  EXPECT_FLOAT_EQ(out[2], 0.5f);
  EXPECT_FLOAT_EQ(out[3], 0.3f);
  // 3 -> 2: output 0 covers pixel 0 and half of pixel 1.
  const std::vector<std::uint8_t> three = {0, 255, 255, 0, 255, 255, 0, 255, 255};
  const auto two = run(GrayView{three.data(), nullptr, 3, 3}, PreprocessSpec{2, 0.0f, 1.0f});
  EXPECT_NEAR(two[0], 1.0f / 3.0f, 1e-6f);
  EXPECT_NEAR(two[1], 1.0f, 1e-6f);
}

TEST(PreprocessTest, EnlargingIsBilinearAndKeepsConstantsConstant) {
  const std::vector<std::uint8_t> flat(14 * 14, 200);
  for (float v : run(GrayView{flat.data(), nullptr, 14, 14}))
    EXPECT_FLOAT_EQ(v, 200.0f / 255.0f);
  // 2 -> 4: centres at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
  const std::vector<float> ramp = {0.0f, 1.0f};
  const auto out = run(GrayView{nullptr, ramp.data(), 2, 1}, PreprocessSpec{4, 0.0f, 1.0f});
  EXPECT_FLOAT_EQ(out[0], 0.0f);
  EXPECT_FLOAT_EQ(out[1], 0.25f);
  EXPECT_FLOAT_EQ(out[2], 0.75f);
  EXPECT_FLOAT_EQ(out[3], 1.0f);
  EXPECT_EQ(out[4], out[0]);  // every output row the same
}

TEST(PreprocessTest, NormalisesWithMeanAndStd) {
  const std::vector<std::uint8_t> pixels = {0, 51, 255, 102};
  const auto out = run(GrayView{pixels.data(), nullptr, 2, 2}, PreprocessSpec{2, 0.5f, 0.25f});
  EXPECT_FLOAT_EQ(out[0], -2.0f);
  EXPECT_FLOAT_EQ(out[1], (0.2f - 0.5f) / 0.25f);
  EXPECT_FLOAT_EQ(out[2], 2.0f);
}

TEST(PreprocessTest, PngNpyAndRawGiveIdenticalFloats) {
  const auto pixels = random_pixels(28 * 28, 3);
  const std::string png = testing::encode_gray8_png(28, 28, pixels);
  auto decoded = decode_image(png);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  auto array = parse_npy(
      testing::npy_bytes("|u1", {1, 28, 28},
                         std::string(reinterpret_cast<const char*>(pixels.data()), pixels.size())));
  ASSERT_TRUE(array.ok()) << array.error().message;
  auto batch = npy_to_images(*array);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  std::vector<float> as_float(pixels.size());
  for (std::size_t i = 0; i < pixels.size(); ++i)
    as_float[i] = static_cast<float>(pixels[i]) / 255.0f;

  for (const PreprocessSpec spec :
       {PreprocessSpec{28, 0.0f, 1.0f}, PreprocessSpec{28, 0.4f, 0.3f},
        PreprocessSpec{20, 0.4f, 0.3f}, PreprocessSpec{64, 0.1f, 2.0f}}) {
    const auto raw = run(GrayView{pixels.data(), nullptr, 28, 28}, spec);
    EXPECT_EQ(run(decoded->view(), spec), raw);
    EXPECT_EQ(run(batch->image(0), spec), raw);
    EXPECT_EQ(run(GrayView{nullptr, as_float.data(), 28, 28}, spec), raw);
  }
}

TEST(PreprocessTest, LargeAndOddShapes) {
  // A long strip: nothing proportional to the input is allocated.
  const std::vector<std::uint8_t> strip(1 << 20, 128);
  for (float v : run(GrayView{strip.data(), nullptr, strip.size(), 1})) {
    EXPECT_NEAR(v, 128.0f / 255.0f, 1e-5f);
  }
  const std::vector<std::uint8_t> one = {255};
  for (float v : run(GrayView{one.data(), nullptr, 1, 1}))
    EXPECT_EQ(v, 1.0f);
}

TEST(PreprocessTest, BadArgumentsRefused) {
  const std::vector<std::uint8_t> pixels(4, 1);
  std::vector<float> out(28 * 28);
  std::vector<float> small(3);
  EXPECT_FALSE(preprocess_image(GrayView{pixels.data(), nullptr, 2, 2}, {}, small).ok());
  EXPECT_FALSE(preprocess_image(GrayView{pixels.data(), nullptr, 0, 2}, {}, out).ok());
  EXPECT_FALSE(preprocess_image(GrayView{nullptr, nullptr, 2, 2}, {}, out).ok());
  EXPECT_FALSE(
      preprocess_image(GrayView{pixels.data(), nullptr, 2, 2}, {28, 0.0f, 0.0f}, out).ok());
  const std::vector<float> nan = {std::nanf("")};
  EXPECT_FALSE(preprocess_image(GrayView{nullptr, nan.data(), 1, 1}, {}, out).ok());
}

}  // namespace
}  // namespace mls
