#include "models/data/image_dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "image/image_encoders.h"
#include "models/image/preprocess.h"
#include "support/temp_dir.h"

namespace mls {
namespace {

namespace fs = std::filesystem;
using testing::npy_bytes;

// n images of side x side: image i has every pixel (i * 37 + y * side + x) mod 256.
std::string pixel_bytes(std::size_t n, std::size_t side) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < side * side; ++p)
      out += static_cast<char>((i * 37 + p) % 256);
  return out;
}

std::string label_bytes(const std::vector<std::uint8_t>& labels) {
  return std::string(labels.begin(), labels.end());
}

// The unit pixels preprocess_image makes of image i of pixel_bytes at `size`.
std::vector<float> expected_unit(std::size_t i, std::size_t side, std::size_t size) {
  const std::string all = pixel_bytes(i + 1, side);
  std::vector<std::uint8_t> px(all.end() - static_cast<long>(side * side), all.end());
  std::vector<float> out(size * size);
  EXPECT_TRUE(
      preprocess_image(GrayView{px.data(), nullptr, side, side}, {size, 0.0f, 1.0f}, out).ok());
  return out;
}

std::vector<float> image_of(const ImageSet& set, std::size_t i) {
  return {set.image(i), set.image(i) + set.image_pixels()};
}

// A MedMNIST-style file: train (6 images), val (3), test (2, must be ignored), side x side.
fs::path write_medmnist(const testing::TempDir& dir, const std::string& name, bool deflate,
                        std::size_t side = 6, bool trailing_channel = false) {
  std::vector<std::size_t> train_shape = {6, side, side};
  if (trailing_channel) train_shape.push_back(1);
  const fs::path path = dir.path() / name;
  EXPECT_TRUE(testing::write_zip(
      path,
      {{"train_images.npy", npy_bytes("|u1", train_shape, pixel_bytes(6, side))},
       {"train_labels.npy", npy_bytes("|u1", {6, 1}, label_bytes({3, 7, 7, 3, 3, 7}))},
       {"val_images.npy", npy_bytes("|u1", {3, side, side}, pixel_bytes(3, side))},
       {"val_labels.npy", npy_bytes("|u1", {3}, label_bytes({7, 3, 7}))},
       {"test_images.npy", npy_bytes("|u1", {2, 5, 5}, pixel_bytes(2, 5))},
       {"test_labels.npy", npy_bytes("|u1", {2, 1}, label_bytes({9, 9}))}},
      deflate));
  return path;
}

TEST(ImageDataset, NpzStoredAndDeflatedLoadAlike) {
  for (const bool deflate : {false, true}) {
    SCOPED_TRACE(deflate ? "deflated" : "stored");
    testing::TempDir dir;
    write_medmnist(dir, "data.npz", deflate, 6, /*trailing_channel=*/!deflate);
    auto ch = load_image_training_channel(dir.path(), 6);
    ASSERT_TRUE(ch.ok()) << ch.error().message;
    EXPECT_FALSE(ch->classes.from_folders);
    EXPECT_EQ(ch->classes.labels, (std::vector<double>{3, 7}));
    EXPECT_EQ(ch->train.count(), 6u);
    EXPECT_EQ(ch->train.labels, (std::vector<int>{0, 1, 1, 0, 0, 1}));
    EXPECT_EQ(ch->val.count(), 3u);
    EXPECT_EQ(ch->val.labels, (std::vector<int>{1, 0, 1}));
    for (std::size_t i = 0; i < 6; ++i)
      EXPECT_EQ(image_of(ch->train, i), expected_unit(i, 6, 6)) << i;
    EXPECT_EQ(image_of(ch->train, 2)[5], static_cast<float>((2 * 37 + 5) % 256) / 255.0f);
  }
}

TEST(ImageDataset, ImagesAreResizedByTheOnePreprocessingPath) {
  testing::TempDir dir;
  write_medmnist(dir, "data.npz", true, 6);
  for (std::size_t size : {4u, 9u}) {
    auto ch = load_image_training_channel(dir.path(), size);
    ASSERT_TRUE(ch.ok()) << ch.error().message;
    EXPECT_EQ(ch->train.size, size);
    for (std::size_t i = 0; i < 6; ++i)
      EXPECT_EQ(image_of(ch->train, i), expected_unit(i, 6, size));
  }
}

TEST(ImageDataset, SeveralNpzFilesConcatenateInPathOrder) {
  testing::TempDir dir;
  write_medmnist(dir, "b.npz", false);
  ASSERT_TRUE(testing::write_zip(
      dir.path() / "a.npz",
      {{"train_images.npy", npy_bytes("|u1", {1, 6, 6}, std::string(36, '\x10'))},
       {"train_labels.npy", npy_bytes("|u1", {1}, label_bytes({5}))}},
      true));
  dir.write("notes.txt", "not data");
  auto ch = load_image_training_channel(dir.path(), 6);
  ASSERT_TRUE(ch.ok()) << ch.error().message;
  EXPECT_EQ(ch->classes.labels, (std::vector<double>{3, 5, 7}));
  ASSERT_EQ(ch->train.count(), 7u);
  EXPECT_EQ(ch->train.labels.front(), 1);  // a.npz first, label 5
  EXPECT_EQ(ch->val.count(), 3u);
  ASSERT_EQ(ch->notes.size(), 1u);
  EXPECT_NE(ch->notes[0].find("notes.txt"), std::string::npos);
}

TEST(ImageDataset, SharedPneumoniaMnist) {
  const fs::path dir = fs::path(MLS_SHARED_DATA_DIR) / "pneumoniamnist";
  auto ch = load_image_training_channel(dir, 28);
  ASSERT_TRUE(ch.ok()) << ch.error().message;
  EXPECT_EQ(ch->train.count(), 2428u);
  EXPECT_EQ(ch->val.count(), 270u);
  EXPECT_EQ(ch->classes.labels, (std::vector<double>{0, 1}));
  const auto positives = std::count(ch->train.labels.begin(), ch->train.labels.end(), 1);
  EXPECT_GT(positives, 1000);
  EXPECT_LT(positives, 1428);
}

void expect_error(const Result<ImageChannel>& r, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(r.ok());
  for (const auto& part : parts)
    EXPECT_NE(r.error().message.find(part), std::string::npos)
        << "'" << part << "' not in: " << r.error().message;
}

TEST(ImageDataset, NpzErrorsNameTheFileAndArray) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::write_zip(
      dir.path() / "no_labels.npz",
      {{"train_images.npy", npy_bytes("|u1", {2, 4, 4}, std::string(32, 'a'))}}, false));
  expect_error(load_image_training_channel(dir.path(), 4), {"no_labels.npz", "train_labels"});

  testing::TempDir dir2;
  ASSERT_TRUE(
      testing::write_zip(dir2.path() / "count.npz",
                         {{"train_images.npy", npy_bytes("|u1", {2, 4, 4}, std::string(32, 'a'))},
                          {"train_labels.npy", npy_bytes("|u1", {3}, label_bytes({0, 1, 0}))}},
                         true));
  expect_error(load_image_training_channel(dir2.path(), 4), {"count.npz", "2 images", "3 labels"});

  testing::TempDir dir3;
  ASSERT_TRUE(testing::write_zip(
      dir3.path() / "shape.npz",
      {{"train_images.npy", npy_bytes("|u1", {2, 4, 4, 3}, std::string(96, 'a'))},
       {"train_labels.npy", npy_bytes("|u1", {2}, label_bytes({0, 1}))}},
      true));
  expect_error(load_image_training_channel(dir3.path(), 4), {"shape.npz", "train_images"});

  testing::TempDir dir4;
  dir4.write("corrupt.npz", "PK\x03\x04 this is not a zip at all");
  expect_error(load_image_training_channel(dir4.path(), 4), {"corrupt.npz"});

  testing::TempDir dir5;
  ASSERT_TRUE(
      testing::write_zip(dir5.path() / "one.npz",
                         {{"train_images.npy", npy_bytes("|u1", {2, 4, 4}, std::string(32, 'a'))},
                          {"train_labels.npy", npy_bytes("|u1", {2}, label_bytes({1, 1}))}},
                         true));
  expect_error(load_image_training_channel(dir5.path(), 4), {"one class", "label 1"});
}

TEST(ImageDataset, ValidationLabelsMustBeTrainingClasses) {
  testing::TempDir dir;
  ASSERT_TRUE(
      testing::write_zip(dir.path() / "d.npz",
                         {{"train_images.npy", npy_bytes("|u1", {2, 4, 4}, std::string(32, 'a'))},
                          {"train_labels.npy", npy_bytes("|u1", {2}, label_bytes({0, 1}))},
                          {"val_images.npy", npy_bytes("|u1", {1, 4, 4}, std::string(16, 'a'))},
                          {"val_labels.npy", npy_bytes("|u1", {1}, label_bytes({4}))}},
                         true));
  expect_error(load_image_training_channel(dir.path(), 4), {"d.npz", "label 4", "0, 1"});
}

TEST(ImageDataset, ValidationChannelReadsValArraysElseTrainArrays) {
  testing::TempDir train_dir, with_val, train_only;
  write_medmnist(train_dir, "t.npz", true);
  auto ch = load_image_training_channel(train_dir.path(), 6);
  ASSERT_TRUE(ch.ok());
  write_medmnist(with_val, "v.npz", false);
  auto v = load_image_validation_channel(with_val.path(), 6, ch->classes);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->train.labels, (std::vector<int>{1, 0, 1}));  // the val_* arrays
  ASSERT_TRUE(
      testing::write_zip(train_only.path() / "v.npz",
                         {{"train_images.npy", npy_bytes("|u1", {1, 6, 6}, std::string(36, 'a'))},
                          {"train_labels.npy", npy_bytes("|u1", {1}, label_bytes({7}))}},
                         true));
  auto w = load_image_validation_channel(train_only.path(), 6, ch->classes);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->train.labels, (std::vector<int>{1}));
}

// NORMAL/ (2 PNG, 1 JPEG, a stray .txt) and PNEUMONIA/ (2 PNG in a nested folder).
void write_folders(const testing::TempDir& dir, const std::string& root = "") {
  std::vector<std::uint8_t> dark(10 * 8, 20), bright(10 * 8, 230);
  dir.write(root + "NORMAL/a.png", testing::encode_gray8_png(10, 8, dark));
  dir.write(root + "NORMAL/b.PNG", testing::encode_gray8_png(10, 8, dark));
  dir.write(root + "NORMAL/c.jpeg", testing::encode_jpeg(10, 8, dark, TJPF_GRAY, TJSAMP_GRAY, 95));
  dir.write(root + "NORMAL/readme.txt", "not an image");
  dir.write(root + "PNEUMONIA/x/1.png", testing::encode_gray8_png(10, 8, bright));
  dir.write(root + "PNEUMONIA/x/2.png", testing::encode_gray8_png(10, 8, bright));
}

TEST(ImageDataset, ClassFolders) {
  testing::TempDir dir;
  write_folders(dir);
  dir.write(".hidden/z.png", "ignored");
  auto ch = load_image_training_channel(dir.path(), 4);
  ASSERT_TRUE(ch.ok()) << ch.error().message;
  EXPECT_TRUE(ch->classes.from_folders);
  EXPECT_EQ(ch->classes.names, (std::vector<std::string>{"NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(ch->classes.labels, (std::vector<double>{0, 1}));
  EXPECT_EQ(ch->train.labels, (std::vector<int>{0, 0, 0, 1, 1}));
  EXPECT_EQ(ch->val.count(), 0u);
  EXPECT_FLOAT_EQ(ch->train.image(0)[0], 20.0f / 255.0f);
  EXPECT_NEAR(ch->train.image(2)[5], 20.0f / 255.0f, 2.0f / 255.0f);  // JPEG: near, not exact
  EXPECT_FLOAT_EQ(ch->train.image(4)[15], 230.0f / 255.0f);
  ASSERT_EQ(ch->notes.size(), 1u);
  EXPECT_NE(ch->notes[0].find("readme.txt"), std::string::npos);
}

TEST(ImageDataset, ClassFolderErrors) {
  testing::TempDir empty;
  auto none = load_image_training_channel(empty.path(), 4);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);

  testing::TempDir loose;
  write_folders(loose);
  loose.write("stray.png", testing::encode_gray8_png(2, 2, {1, 2, 3, 4}));
  expect_error(load_image_training_channel(loose.path(), 4), {"stray.png", "sub-folder"});

  testing::TempDir corrupt;
  write_folders(corrupt);
  corrupt.write("PNEUMONIA/x/3.png", "\x89PNG\r\n\x1a\n truncated");
  expect_error(load_image_training_channel(corrupt.path(), 4), {"PNEUMONIA/x/3.png"});

  testing::TempDir one;
  one.write("ONLY/a.png", testing::encode_gray8_png(2, 2, {1, 2, 3, 4}));
  expect_error(load_image_training_channel(one.path(), 4), {"one class", "ONLY"});
}

TEST(ImageDataset, ValidationFoldersMapByName) {
  testing::TempDir train_dir, val_dir, bad_dir;
  write_folders(train_dir);
  auto ch = load_image_training_channel(train_dir.path(), 4);
  ASSERT_TRUE(ch.ok());
  val_dir.write("PNEUMONIA/v.png", testing::encode_gray8_png(3, 3, std::vector<std::uint8_t>(9)));
  auto v = load_image_validation_channel(val_dir.path(), 4, ch->classes);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->train.labels, (std::vector<int>{1}));  // the only folder is still class 1

  bad_dir.write("COVID/v.png", testing::encode_gray8_png(3, 3, std::vector<std::uint8_t>(9)));
  expect_error(load_image_validation_channel(bad_dir.path(), 4, ch->classes),
               {"COVID", "NORMAL, PNEUMONIA"});
  testing::TempDir npz_dir;
  write_medmnist(npz_dir, "v.npz", true);
  expect_error(load_image_validation_channel(npz_dir.path(), 4, ch->classes), {"same layout"});
}

TEST(ImageDataset, SplitOffValidationIsStratifiedAndSeeded) {
  ImageSet set;
  set.size = 1;
  for (int i = 0; i < 100; ++i) {
    set.pixels.push_back(static_cast<float>(i));
    set.labels.push_back(i < 80 ? 0 : 1);
  }
  ImageSet a = set, b = set, c = set;
  const ImageSet va = split_off_validation(a, 0.1, 5);
  const ImageSet vb = split_off_validation(b, 0.1, 5);
  const ImageSet vc = split_off_validation(c, 0.1, 6);
  EXPECT_EQ(va.pixels, vb.pixels);
  EXPECT_NE(va.pixels, vc.pixels);
  EXPECT_EQ(va.count(), 10u);
  EXPECT_EQ(std::count(va.labels.begin(), va.labels.end(), 1), 2);
  EXPECT_EQ(a.count(), 90u);
  std::vector<float> all = a.pixels;
  all.insert(all.end(), va.pixels.begin(), va.pixels.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, set.pixels) << "every image lands in exactly one part";
  EXPECT_TRUE(std::is_sorted(a.pixels.begin(), a.pixels.end())) << "order is kept";

  ImageSet d = set;
  EXPECT_EQ(split_off_validation(d, 0.0, 1).count(), 0u);
  EXPECT_EQ(d.count(), 100u);
}

TEST(ImageDataset, PixelStatsAndNormalisation) {
  ImageSet set;
  set.size = 2;
  set.pixels = {0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f};
  set.labels = {0, 1};
  const PixelStats s = pixel_stats(set);
  EXPECT_FLOAT_EQ(s.mean, 0.5f);
  EXPECT_FLOAT_EQ(s.std, 0.5f);
  const Matrix m = normalised(set, s);
  EXPECT_EQ(m.rows, 2u);
  EXPECT_EQ(m.cols, 4u);
  EXPECT_FLOAT_EQ(m.at(1, 1), 1.0f);
  EXPECT_FLOAT_EQ(m.at(1, 2), -1.0f);

  ImageSet flat = set;
  std::fill(flat.pixels.begin(), flat.pixels.end(), 0.25f);
  EXPECT_FLOAT_EQ(pixel_stats(flat).std, 1.0f);
}

TEST(ImageDataset, NormalisedPixelsMatchPreprocessWithTheStats) {
  // Train normalises stored unit pixels; serve preprocesses with mean/std in one go. Same bits.
  testing::TempDir dir;
  write_medmnist(dir, "d.npz", true, 6);
  auto ch = load_image_training_channel(dir.path(), 9);
  ASSERT_TRUE(ch.ok());
  const PixelStats stats = pixel_stats(ch->train);
  const Matrix m = normalised(ch->train, stats);
  const std::string all = pixel_bytes(6, 6);
  for (std::size_t i = 0; i < 6; ++i) {
    std::vector<std::uint8_t> px(all.begin() + static_cast<long>(i * 36),
                                 all.begin() + static_cast<long>((i + 1) * 36));
    std::vector<float> served(81);
    ASSERT_TRUE(
        preprocess_image(GrayView{px.data(), nullptr, 6, 6}, {9, stats.mean, stats.std}, served)
            .ok());
    EXPECT_EQ(std::vector<float>(m.row(i), m.row(i) + 81), served) << i;
  }
}

}  // namespace
}  // namespace mls
