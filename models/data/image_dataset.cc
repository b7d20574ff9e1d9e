#include "models/data/image_dataset.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "models/core/random.h"
#include "models/data/image_readers.h"
#include "models/data/tabular_loader.h"

namespace mls {

namespace fs = std::filesystem;
using image_readers::join_labels;
using image_readers::lower_extension;

namespace {

Result<ImageChannel> load_channel(const fs::path& dir, std::size_t size,
                                  const ImageClasses* classes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return make_error(ErrorCode::kNotFound, dir.string() + " is not a directory");
  }
  std::vector<fs::path> npz_files;
  std::vector<std::string> skipped;
  for (const fs::path& file : list_data_files(dir)) {
    if (lower_extension(file) == ".npz")
      npz_files.push_back(file);
    else
      skipped.push_back("skipped " + file.string() + ": not an .npz file");
  }
  if (npz_files.empty()) return image_readers::read_class_folders(dir, size, classes);
  if (classes != nullptr && classes->from_folders) {
    return make_error(ErrorCode::kInvalidArgument,
                      dir.string() +
                          " holds .npz files but the training channel has class "
                          "folders; use the same layout in both channels");
  }
  auto channel = image_readers::read_npz_files(npz_files, size, classes);
  if (channel) channel->notes = std::move(skipped);
  return channel;
}

}  // namespace

void ImageSet::append(const ImageSet& other, std::size_t i) {
  const float* src = other.image(i);
  pixels.insert(pixels.end(), src, src + image_pixels());
  labels.push_back(other.labels[i]);
}

Result<ImageChannel> load_image_training_channel(const fs::path& dir, std::size_t size) {
  auto channel = load_channel(dir, size, nullptr);
  if (!channel) return channel;
  if (channel->classes.labels.size() < 2) {
    const std::string only = channel->classes.from_folders
                                 ? "folder " + channel->classes.names.front()
                                 : "label " + join_labels(channel->classes.labels);
    return make_error(ErrorCode::kInvalidArgument,
                      dir.string() + ": the training images are all of one class (" + only +
                          "); a classifier needs at least two");
  }
  return channel;
}

Result<ImageChannel> load_image_validation_channel(const fs::path& dir, std::size_t size,
                                                   const ImageClasses& classes) {
  if (!classes.from_folders) {
    bool has_npz = false;
    for (const fs::path& file : list_data_files(dir))
      has_npz = has_npz || lower_extension(file) == ".npz";
    if (!has_npz) {
      return make_error(ErrorCode::kInvalidArgument,
                        dir.string() +
                            " has no .npz files but the training channel does; use "
                            "the same layout in both channels");
    }
  }
  return load_channel(dir, size, &classes);
}

ImageSet split_off_validation(ImageSet& train, double fraction, std::uint64_t seed) {
  ImageSet val, rest;
  val.size = rest.size = train.size;
  if (fraction <= 0.0 || train.count() == 0) return val;
  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < train.count(); ++i)
    by_class[train.labels[i]].push_back(i);
  std::vector<char> to_val(train.count(), 0);
  SplitMix64 rng(seed ^ 0x5EEDFA11D00DULL);
  for (auto& [label, members] : by_class) {
    // Fisher-Yates over the class's indices; the first `take` go to validation.
    for (std::size_t i = members.size(); i > 1; --i)
      std::swap(members[i - 1], members[rng.below(i)]);
    auto take =
        static_cast<std::size_t>(std::llround(fraction * static_cast<double>(members.size())));
    if (members.size() >= 2)
      take = std::clamp<std::size_t>(take, 1, members.size() - 1);
    else
      take = 0;
    for (std::size_t i = 0; i < take; ++i)
      to_val[members[i]] = 1;
  }
  for (std::size_t i = 0; i < train.count(); ++i)
    (to_val[i] ? val : rest).append(train, i);
  train = std::move(rest);
  return val;
}

PixelStats pixel_stats(const ImageSet& set) {
  double sum = 0.0, sum_sq = 0.0;
  for (float v : set.pixels) {
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  PixelStats stats;
  if (set.pixels.empty()) return stats;
  const double n = static_cast<double>(set.pixels.size());
  const double mean = sum / n;
  const double var = std::max(0.0, sum_sq / n - mean * mean);
  stats.mean = static_cast<float>(mean);
  stats.std = var > 1e-12 ? static_cast<float>(std::sqrt(var)) : 1.0f;
  return stats;
}

Matrix normalised(const ImageSet& set, PixelStats stats) {
  Matrix m;
  m.rows = set.count();
  m.cols = set.image_pixels();
  m.values.resize(set.pixels.size());
  normalise_pixels(set.pixels.data(), set.pixels.size(), stats, m.values.data());
  return m;
}

}  // namespace mls
