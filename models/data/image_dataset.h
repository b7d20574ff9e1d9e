#pragma once
// Reads a SageMaker training channel of images into labelled, preprocessed pixels. Two layouts:
//   - .npz files in MedMNIST layout: train_images / train_labels, optional val_images /
//     val_labels; test_* and any other arrays are not read. Images uint8 NxHxW or NxHxWx1 (or
//     float in [0, 1]); labels N or Nx1 integers. Several files are concatenated in path order.
//   - one sub-folder per class of PNG/JPEG files (NORMAL/, PNEUMONIA/): class names are the
//     folder names sorted, labels 0..k-1 in that order; files anywhere under a class folder count.
// Every image goes through preprocess_image at the requested size with mean 0 and std 1, so the
// pixels kept are the [0, 1] values serve computes before it normalises; the trainer normalises
// with the training set's mean and std afterwards, in the same float operation serve uses.

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "models/core/matrix.h"
#include "models/core/status.h"

namespace mls {

// count images of size x size pixels in [0, 1], row-major, one after the other.
struct ImageSet {
  std::size_t size = 0;
  std::vector<float> pixels;  // [count, size * size]
  std::vector<int> labels;    // [count], class indices

  std::size_t count() const { return labels.size(); }
  std::size_t image_pixels() const { return size * size; }
  const float* image(std::size_t i) const { return pixels.data() + i * size * size; }
  void append(const ImageSet& other, std::size_t i);  // copies image i of other
};

// What the class indices mean. From .npz files: the label values seen, ascending (names empty).
// From class folders: labels 0..k-1 and the folder names.
struct ImageClasses {
  bool from_folders = false;
  std::vector<double> labels;
  std::vector<std::string> names;
};

struct ImageChannel {
  ImageSet train;  // train_* arrays, or the class folders
  ImageSet val;    // val_* arrays (.npz only); empty when there are none
  ImageClasses classes;
  std::vector<std::string> notes;  // files skipped, for the caller to log
};

// The training channel: the classes are what it holds (at least two).
// Errors name the file (and array) and the problem: kNotFound when the channel holds neither
// .npz files nor images in class folders, kInvalidArgument for unreadable or inconsistent data.
Result<ImageChannel> load_image_training_channel(const std::filesystem::path& dir,
                                                 std::size_t size);

// A validation channel, read with the training channel's classes: .npz files give their val_*
// arrays (their train_* arrays when they have no val_*); class folders must be among the training
// folders. The result is in `train`.
Result<ImageChannel> load_image_validation_channel(const std::filesystem::path& dir,
                                                   std::size_t size, const ImageClasses& classes);

// Moves a stratified, seeded `fraction` of each class of `train` into the returned set (at least
// one image per class when the class has two or more). Order is kept within each part.
ImageSet split_off_validation(ImageSet& train, double fraction, std::uint64_t seed);

// Mean and population standard deviation of every pixel; std is 1 when the pixels are constant.
struct PixelStats {
  float mean = 0.0f;
  float std = 1.0f;
};
PixelStats pixel_stats(const ImageSet& set);

// (v - mean) / std, the float operation preprocess_image ends with, so normalised training
// pixels are bit-identical to what serve feeds the model for the same image.
inline void normalise_pixels(const float* unit, std::size_t count, PixelStats stats, float* out) {
  for (std::size_t i = 0; i < count; ++i)
    out[i] = (unit[i] - stats.mean) / stats.std;
}
// Every image of set, normalised: [count, size * size].
Matrix normalised(const ImageSet& set, PixelStats stats);

}  // namespace mls
