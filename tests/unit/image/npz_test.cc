#include "models/image/npz.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "image/image_encoders.h"
#include "support/temp_dir.h"

namespace mls {
namespace {

using testing::npy_bytes;

TEST(NpzTest, SharedPneumoniaMnistLoads) {
  const std::filesystem::path path =
      std::filesystem::path(MLS_SHARED_DATA_DIR) / "pneumoniamnist" / "pneumoniamnist.npz";
  auto npz = NpzArchive::open_file(path);
  ASSERT_TRUE(npz.ok()) << npz.error().message;
  EXPECT_TRUE(npz->contains("train_images"));
  EXPECT_TRUE(npz->contains("val_labels.npy"));
  EXPECT_FALSE(npz->contains("test_images"));

  auto train = npz->read_array("train_images");
  ASSERT_TRUE(train.ok()) << train.error().message;
  EXPECT_EQ(train->dtype, NpyDtype::kUint8);
  EXPECT_EQ(train->shape, (std::vector<std::size_t>{2428, 28, 28}));
  auto images = npy_to_images(*train);
  ASSERT_TRUE(images.ok()) << images.error().message;
  EXPECT_EQ(images->count, 2428u);

  auto val_labels = npz->read_array("val_labels");
  ASSERT_TRUE(val_labels.ok()) << val_labels.error().message;
  EXPECT_EQ(val_labels->shape, (std::vector<std::size_t>{270, 1}));
  auto labels = npy_to_labels(*val_labels);
  ASSERT_TRUE(labels.ok());
  for (std::int64_t label : *labels)
    EXPECT_TRUE(label == 0 || label == 1);

  auto missing = npz->read_array("test_images");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("train_images"), std::string::npos);
}

struct Fixture {
  std::string images = npy_bytes("|u1", {2, 3, 3}, "abcdefghijklmnopqr");
  std::string labels = npy_bytes("|u1", {2, 1}, std::string("\x00\x01", 2));
};

void expect_loads(const NpzArchive& npz, const Fixture& f) {
  EXPECT_EQ(npz.keys(), (std::vector<std::string>{"train_images", "train_labels"}));
  auto member = npz.read_member("train_images.npy");
  ASSERT_TRUE(member.ok()) << member.error().message;
  EXPECT_EQ(*member, f.images);
  auto labels = npz.read_array("train_labels");
  ASSERT_TRUE(labels.ok()) << labels.error().message;
  EXPECT_EQ(*npy_to_labels(*labels), (std::vector<std::int64_t>{0, 1}));
}

TEST(NpzTest, StoredAndDeflatedMembersLoadFromFileAndBytes) {
  testing::TempDir dir;
  Fixture f;
  for (const bool deflate : {false, true}) {
    SCOPED_TRACE(deflate ? "deflated" : "stored");
    const auto path = dir.path() / (deflate ? "deflated.npz" : "stored.npz");
    ASSERT_TRUE(testing::write_zip(
        path, {{"train_images.npy", f.images}, {"train_labels.npy", f.labels}}, deflate));
    const std::string bytes = testing::read_file_bytes(path);
    if (!deflate) {
      EXPECT_NE(bytes.find(f.images), std::string::npos);  // really stored
    }
    auto from_file = NpzArchive::open_file(path);
    ASSERT_TRUE(from_file.ok()) << from_file.error().message;
    expect_loads(*from_file, f);
    auto from_bytes = NpzArchive::open_bytes(bytes);
    ASSERT_TRUE(from_bytes.ok()) << from_bytes.error().message;
    expect_loads(*from_bytes, f);
    NpzArchive moved = std::move(from_bytes).value();  // the archive survives a move
    expect_loads(moved, f);
  }
}

TEST(NpzTest, SizeBudgetCheckedBeforeReading) {
  testing::TempDir dir;
  Fixture f;
  const auto path = dir.path() / "a.npz";
  ASSERT_TRUE(testing::write_zip(path, {{"train_images.npy", f.images}}, true));
  auto npz = NpzArchive::open_file(path, NpzLimits{16});
  ASSERT_TRUE(npz.ok());
  auto member = npz->read_member("train_images");
  ASSERT_FALSE(member.ok());
  EXPECT_EQ(member.error().code, ErrorCode::kResourceExhausted);
}

TEST(NpzTest, CorruptArchivesRefused) {
  testing::TempDir dir;
  const auto path = dir.path() / "a.npz";
  // Compressible data, so the deflate stream is long enough to damage in the middle.
  const std::string images = npy_bytes("|u1", {4, 32, 32}, std::string(4096, 'z'));
  ASSERT_TRUE(testing::write_zip(path, {{"train_images.npy", images}}, false));
  std::string bytes = testing::read_file_bytes(path);
  const std::size_t data = bytes.find(std::string(64, 'z'));
  ASSERT_NE(data, std::string::npos);
  std::string damaged = bytes;
  damaged[data + 100] = 'y';  // CRC mismatch
  auto npz = NpzArchive::open_bytes(damaged);
  ASSERT_TRUE(npz.ok()) << npz.error().message;
  auto member = npz->read_member("train_images");
  ASSERT_FALSE(member.ok());
  EXPECT_EQ(member.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(member.error().message.find("corrupt"), std::string::npos) << member.error().message;

  EXPECT_FALSE(NpzArchive::open_bytes(bytes.substr(0, bytes.size() / 2)).ok());
  EXPECT_FALSE(NpzArchive::open_bytes("definitely not a zip").ok());
  EXPECT_FALSE(NpzArchive::open_bytes("").ok());
  auto missing = NpzArchive::open_file(dir.path() / "nope.npz");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(NpzTest, MutatedArchivesFailCleanly) {
  testing::TempDir dir;
  Fixture f;
  const auto path = dir.path() / "a.npz";
  ASSERT_TRUE(testing::write_zip(
      path, {{"train_images.npy", f.images}, {"train_labels.npy", f.labels}}, true));
  const std::string original = testing::read_file_bytes(path);
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    std::string bytes = original;
    bytes[rng() % bytes.size()] = static_cast<char>(rng());
    auto npz = NpzArchive::open_bytes(bytes);
    if (!npz.ok()) continue;
    for (const std::string& key : npz->keys()) {
      auto array = npz->read_array(key);
      if (array.ok()) (void)npy_to_images(*array);
    }
  }
}

}  // namespace
}  // namespace mls
