#include "models/image/npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "image/image_encoders.h"

namespace mls {
namespace {

using testing::npy_bytes;

std::string raw(const void* data, std::size_t size) {
  return std::string(static_cast<const char*>(data), size);
}

std::string parse_error(const std::string& bytes, const NpyLimits& limits = {}) {
  auto result = parse_npy(bytes, limits);
  if (result.ok()) {
    ADD_FAILURE() << "parsed, expected an error";
    return {};
  }
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << result.error().message;
  return result.error().message;
}

TEST(NpyTest, Uint8StackOfImages) {
  std::vector<std::uint8_t> data(2 * 3 * 4);
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<std::uint8_t>(i * 10);
  auto array = parse_npy(npy_bytes("|u1", {2, 3, 4}, raw(data.data(), data.size())));
  ASSERT_TRUE(array.ok()) << array.error().message;
  EXPECT_EQ(array->dtype, NpyDtype::kUint8);
  EXPECT_EQ(array->shape, (std::vector<std::size_t>{2, 3, 4}));
  auto batch = npy_to_images(*array);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_FALSE(batch->is_float);
  EXPECT_EQ(batch->count, 2u);
  EXPECT_EQ(batch->height, 3u);
  EXPECT_EQ(batch->width, 4u);
  EXPECT_EQ(batch->u8, data);
  EXPECT_EQ(batch->image(1).u8[0], 120);
}

TEST(NpyTest, Float32SingleImage) {
  const std::vector<float> data = {0.0f, 0.25f, 0.5f, 1.0f, 0.125f, 0.75f};
  auto array = parse_npy(npy_bytes("<f4", {2, 3}, raw(data.data(), data.size() * 4)));
  ASSERT_TRUE(array.ok()) << array.error().message;
  auto batch = npy_to_images(*array);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_TRUE(batch->is_float);
  EXPECT_EQ(batch->count, 1u);
  EXPECT_EQ(batch->height, 2u);
  EXPECT_EQ(batch->width, 3u);
  EXPECT_EQ(batch->f32, data);
}

TEST(NpyTest, Float64AndBigEndianAndTrailingChannel) {
  const std::vector<double> data = {0.5, 1.0};
  auto f8 = parse_npy(npy_bytes("<f8", {1, 2, 1, 1}, raw(data.data(), 16)));
  ASSERT_TRUE(f8.ok()) << f8.error().message;
  auto batch = npy_to_images(*f8);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_EQ(batch->f32, (std::vector<float>{0.5f, 1.0f}));
  EXPECT_EQ(batch->width, 1u);
  EXPECT_EQ(batch->height, 2u);

  const std::string be = std::string("\x3f\x00\x00\x00", 4);  // 0.5f big-endian
  auto f4 = parse_npy(npy_bytes(">f4", {1, 1}, be));
  ASSERT_TRUE(f4.ok()) << f4.error().message;
  EXPECT_EQ(npy_to_images(*f4)->f32, (std::vector<float>{0.5f}));
}

TEST(NpyTest, Version2Header) {
  std::string v1 = npy_bytes("|u1", {2, 2}, std::string(4, '\x07'));
  // Rewrite as version 2.0: a 4-byte header length.
  std::string v2 = v1.substr(0, 6) + std::string("\x02\x00", 2) + v1.substr(8, 2) +
                   std::string(2, '\0') + v1.substr(10);
  auto array = parse_npy(v2);
  ASSERT_TRUE(array.ok()) << array.error().message;
  EXPECT_EQ(array->shape, (std::vector<std::size_t>{2, 2}));
}

TEST(NpyTest, LabelsFromUint8AndInt64) {
  const std::string u8("\x00\x01\x01", 3);
  auto a = parse_npy(npy_bytes("|u1", {3, 1}, u8));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*npy_to_labels(*a), (std::vector<std::int64_t>{0, 1, 1}));
  const std::vector<std::int64_t> i8 = {4, -2};
  auto b = parse_npy(npy_bytes("<i8", {2}, raw(i8.data(), 16)));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(*npy_to_labels(*b), i8);
  EXPECT_FALSE(npy_to_labels(*parse_npy(npy_bytes("|u1", {2, 2}, "abcd"))).ok());
}

TEST(NpyTest, LyingHeaderRefused) {
  // The shape claims 10x28x28 bytes; only one image is present.
  const std::string message = parse_error(npy_bytes("|u1", {10, 28, 28}, std::string(784, 'x')));
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("7840 bytes, 784 present"), std::string::npos) << message;
  // More data than the shape accounts for.
  EXPECT_NE(parse_error(npy_bytes("|u1", {2}, "abc")).find("size mismatch"), std::string::npos);
  // Absurd dimensions: no allocation, no overflow.
  EXPECT_NE(parse_error(npy_bytes("<f4", {99999999999, 99999999999}, "")).find("limit"),
            std::string::npos);
  EXPECT_NE(parse_error(npy_bytes("|u1", {4294967296, 4294967296, 4294967296}, "")).find("limit"),
            std::string::npos);
  std::string huge_dim = npy_bytes("|u1", {1}, "x");
  huge_dim.replace(huge_dim.find("(1,)"), 4, "(99999999999999999999999,)");
  EXPECT_NE(parse_error(huge_dim).find("shape"), std::string::npos);
}

TEST(NpyTest, MalformedFilesRefused) {
  const std::string good = npy_bytes("|u1", {2, 2}, "abcd");
  ASSERT_TRUE(parse_npy(good).ok());
  EXPECT_NE(parse_error("").find("magic"), std::string::npos);
  EXPECT_NE(parse_error("PK\x03\x04 not npy").find("magic"), std::string::npos);
  std::string bad_version = good;
  bad_version[6] = 9;
  EXPECT_NE(parse_error(bad_version).find("version"), std::string::npos);
  EXPECT_NE(parse_error(good.substr(0, 40)).find("truncated header"), std::string::npos);
  EXPECT_NE(parse_error(npy_bytes("|u1", {2, 2}, "abcd", true)).find("fortran_order"),
            std::string::npos);
  EXPECT_NE(parse_error(npy_bytes("|b1", {4}, "abcd")).find("unsupported dtype"),
            std::string::npos);
  EXPECT_NE(parse_error(npy_bytes("<U8", {1}, std::string(32, 'a'))).find("unsupported dtype"),
            std::string::npos);
  auto mangle = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_FALSE(parse_npy(mangle("'shape'", "'shapf'")).ok());
  EXPECT_FALSE(parse_npy(mangle("(2, 2)", "(2, -2)")).ok());
  EXPECT_FALSE(parse_npy(mangle("(2, 2)", "[2, 2]")).ok());
  EXPECT_FALSE(parse_npy(mangle("False", "Flase")).ok());
  EXPECT_FALSE(parse_npy(mangle("{", "[")).ok());
  EXPECT_FALSE(parse_npy(mangle("}", ")")).ok());
  EXPECT_FALSE(parse_npy(mangle("'descr'", "'fortran_order'")).ok());  // repeated key
  std::string long_header = good;
  long_header[8] = '\xff', long_header[9] = '\xff';
  EXPECT_FALSE(parse_npy(long_header).ok());
}

TEST(NpyTest, ImageShapesAndValuesChecked) {
  auto check = [](const std::string& npy, const std::string& needle) {
    auto array = parse_npy(npy);
    ASSERT_TRUE(array.ok()) << array.error().message;
    auto batch = npy_to_images(*array, ImageLimits{1000});
    ASSERT_FALSE(batch.ok());
    EXPECT_NE(batch.error().message.find(needle), std::string::npos) << batch.error().message;
  };
  check(npy_bytes("|u1", {4}, "abcd"), "shape");
  check(npy_bytes("|u1", {1, 2, 2, 3}, std::string(12, 'a')), "shape");
  check(npy_bytes("|u1", {0, 2, 2}, ""), "empty");
  check(npy_bytes("|u1", {1, 0}, ""), "no pixels");
  check(npy_bytes("|u1", {1, 2000}, std::string(2000, 'a')), "over the");
  const std::vector<float> over = {0.5f, 2.0f};
  check(npy_bytes("<f4", {1, 2}, raw(over.data(), 8)), "outside [0, 1]");
  const std::vector<float> nan = {std::nanf("")};
  check(npy_bytes("<f4", {1, 1}, raw(nan.data(), 4)), "outside [0, 1]");
  const std::vector<std::int32_t> ints = {1, 2};
  check(npy_bytes("<i4", {1, 2}, raw(ints.data(), 8)), "dtype int32");
}

}  // namespace
}  // namespace mls
