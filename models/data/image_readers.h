#pragma once
// The two layouts of an image channel (image_dataset.h), one reader each, and the few helpers
// they share. Internal to models/data.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "models/core/status.h"
#include "models/data/image_dataset.h"
#include "models/image/preprocess.h"

namespace mls::image_readers {

// .npz files in MedMNIST layout. classes == nullptr: a training channel (train_* and val_*);
// otherwise a validation channel (val_*, else train_*) read against the training classes.
Result<ImageChannel> read_npz_files(const std::vector<std::filesystem::path>& files,
                                    std::size_t size, const ImageClasses* classes);

// One sub-folder of PNG/JPEG files per class, directly under dir. classes as above.
Result<ImageChannel> read_class_folders(const std::filesystem::path& dir, std::size_t size,
                                        const ImageClasses* classes);

inline Error in_file(const std::filesystem::path& path, const Error& e) {
  return make_error(e.code, path.string() + ": " + e.message);
}

inline std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

inline bool is_image_file(const std::filesystem::path& path) {
  const std::string ext = lower_extension(path);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

inline std::string join_labels(const std::vector<double>& labels) {
  std::string out;
  for (double v : labels) {
    if (!out.empty()) out += ", ";
    out += std::to_string(static_cast<long long>(v));
  }
  return out;
}

// Unit pixels at size x size: preprocess with the identity normalisation.
inline PreprocessSpec unit_spec(std::size_t size) {
  return PreprocessSpec{size, 0.0f, 1.0f};
}

}  // namespace mls::image_readers
