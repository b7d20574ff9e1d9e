#include "models/cnn/augment.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "models/cnn/cnn_random.h"

namespace mls::cnn {
namespace {

constexpr std::size_t kSide = 16;

std::vector<float> gradient_image() {
  std::vector<float> img(kSide * kSide);
  for (std::size_t y = 0; y < kSide; ++y)
    for (std::size_t x = 0; x < kSide; ++x)
      img[y * kSide + x] = static_cast<float>(x + 2 * y) / static_cast<float>(3 * kSide);
  return img;
}

std::vector<float> run(const std::vector<float>& in, const AugmentParams& p, std::uint64_t seed) {
  std::vector<float> out(in.size());
  augment_image(in.data(), kSide, p, seed, out.data());
  return out;
}

TEST(Augment, SameSeedSameImageOtherSeedOtherImage) {
  const auto img = gradient_image();
  const AugmentParams p;
  EXPECT_EQ(run(img, p, 42), run(img, p, 42));
  EXPECT_NE(run(img, p, 42), run(img, p, 43));
  EXPECT_NE(run(img, p, 42), img);
}

TEST(Augment, StaysInUnitRange) {
  const auto img = gradient_image();
  AugmentParams strong;
  strong.max_brightness = 0.5f;
  strong.max_contrast = 0.9f;
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    for (float v : run(img, strong, seed)) {
      ASSERT_GE(v, 0.0f);
      ASSERT_LE(v, 1.0f);
    }
  }
}

TEST(Augment, ZeroStrengthIsTheIdentity) {
  const auto img = gradient_image();
  const AugmentParams none{0.0f, 0.0f, 0.0f, 0.0f};
  const auto out = run(img, none, 9);
  for (std::size_t i = 0; i < img.size(); ++i)
    EXPECT_NEAR(out[i], img[i], 1e-6f) << i;
}

TEST(Augment, ShiftOnlyMovesPixels) {
  // A single bright pixel in the middle stays a single bright region near the middle.
  std::vector<float> img(kSide * kSide, 0.0f);
  img[8 * kSide + 8] = 1.0f;
  AugmentParams shift_only{0.125f, 0.0f, 0.0f, 0.0f};
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const auto out = run(img, shift_only, seed);
    std::size_t best = 0;
    for (std::size_t i = 1; i < out.size(); ++i)
      if (out[i] > out[best]) best = i;
    const auto dy = static_cast<long>(best / kSide) - 8;
    const auto dx = static_cast<long>(best % kSide) - 8;
    EXPECT_LE(std::abs(dx), 3) << seed;
    EXPECT_LE(std::abs(dy), 3) << seed;
  }
}

TEST(AugmentSeed, DependsOnEveryInput) {
  std::set<std::uint64_t> seen;
  for (std::uint64_t job : {0u, 1u})
    for (std::uint64_t epoch = 0; epoch < 5; ++epoch)
      for (std::uint64_t index = 0; index < 50; ++index)
        seen.insert(augment_seed(job, epoch, index));
  EXPECT_EQ(seen.size(), 2u * 5u * 50u);
  EXPECT_EQ(augment_seed(3, 4, 5), augment_seed(3, 4, 5));
  EXPECT_NE(derive_seed(1, 2, 3, 4), derive_seed(1, 2, 4, 3));
}

}  // namespace
}  // namespace mls::cnn
