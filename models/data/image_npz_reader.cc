#include <set>

#include "models/data/image_readers.h"
#include "models/image/npz.h"

namespace mls::image_readers {

namespace fs = std::filesystem;

namespace {

// One file's images and raw label values, for one prefix ("train" or "val").
Status read_npz_arrays(const NpzArchive& npz, const fs::path& file, const std::string& prefix,
                       std::size_t size, ImageSet& out, std::vector<std::int64_t>& raw_labels) {
  auto images_array = npz.read_array(prefix + "_images");
  if (!images_array) return images_array.error();
  auto images = npy_to_images(*images_array);
  if (!images)
    return in_file(file,
                   make_error(images.error().code, prefix + "_images: " + images.error().message));
  auto labels_array = npz.read_array(prefix + "_labels");
  if (!labels_array) return labels_array.error();
  auto labels = npy_to_labels(*labels_array);
  if (!labels)
    return in_file(file,
                   make_error(labels.error().code, prefix + "_labels: " + labels.error().message));
  if (labels->size() != images->count) {
    return in_file(
        file, make_error(ErrorCode::kInvalidArgument,
                         prefix + "_images has " + std::to_string(images->count) + " images but " +
                             prefix + "_labels has " + std::to_string(labels->size()) + " labels"));
  }
  const std::size_t start = out.pixels.size();
  out.pixels.resize(start + images->count * size * size);
  for (std::size_t i = 0; i < images->count; ++i) {
    std::span<float> dst(out.pixels.data() + start + i * size * size, size * size);
    if (Status s = preprocess_image(images->image(i), unit_spec(size), dst); !s) {
      return in_file(file, make_error(s.error().code, prefix + "_images[" + std::to_string(i) +
                                                          "]: " + s.error().message));
    }
  }
  raw_labels.insert(raw_labels.end(), labels->begin(), labels->end());
  out.labels.resize(out.labels.size() + labels->size(), -1);  // mapped to classes by the caller
  return Ok{};
}

// Raw label values -> class indices in `classes`; an unknown value is an error naming where.
Status map_labels(const std::vector<std::int64_t>& raw, const std::vector<double>& classes,
                  const std::string& where, std::vector<int>& out) {
  out.resize(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto it = std::lower_bound(classes.begin(), classes.end(), static_cast<double>(raw[i]));
    if (it == classes.end() || *it != static_cast<double>(raw[i])) {
      return make_error(ErrorCode::kInvalidArgument,
                        where + ": label " + std::to_string(raw[i]) + " (image " +
                            std::to_string(i) + ") is not a training class (training has " +
                            join_labels(classes) + ")");
    }
    out[i] = static_cast<int>(it - classes.begin());
  }
  return Ok{};
}

}  // namespace

Result<ImageChannel> read_npz_files(const std::vector<fs::path>& files, std::size_t size,
                                    const ImageClasses* classes) {
  ImageChannel channel;
  channel.train.size = channel.val.size = size;
  std::vector<std::int64_t> raw_train, raw_val;
  for (const fs::path& file : files) {
    auto npz = NpzArchive::open_file(file);
    if (!npz) return npz.error();
    std::string prefix = "train";
    if (classes != nullptr && npz->contains("val_images")) prefix = "val";
    if (!npz->contains(prefix + "_images") || !npz->contains(prefix + "_labels")) {
      std::string has;
      for (const auto& key : npz->keys())
        has += (has.empty() ? "" : ", ") + key;
      return in_file(file, make_error(ErrorCode::kInvalidArgument,
                                      "expected arrays " + prefix + "_images and " + prefix +
                                          "_labels (MedMNIST layout); the file has: " + has));
    }
    if (Status s = read_npz_arrays(*npz, file, prefix, size, channel.train, raw_train); !s) {
      return s.error();
    }
    if (classes == nullptr && npz->contains("val_images")) {
      if (Status s = read_npz_arrays(*npz, file, "val", size, channel.val, raw_val); !s) {
        return s.error();
      }
    }
  }
  if (classes != nullptr) {
    channel.classes = *classes;
  } else {
    const std::set<std::int64_t> distinct(raw_train.begin(), raw_train.end());
    for (std::int64_t v : distinct)
      channel.classes.labels.push_back(static_cast<double>(v));
  }
  const std::string where = files.size() == 1 ? files.front().string() : "the .npz files";
  if (Status s = map_labels(raw_train, channel.classes.labels, where, channel.train.labels); !s) {
    return s.error();
  }
  if (Status s =
          map_labels(raw_val, channel.classes.labels, where + " (val_labels)", channel.val.labels);
      !s) {
    return s.error();
  }
  return channel;
}

}  // namespace mls::image_readers
