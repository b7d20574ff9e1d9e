#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "models/artifact/artifact_files.h"
#include "models/data/image_readers.h"
#include "models/data/tabular_loader.h"
#include "models/image/image_decode.h"

namespace mls::image_readers {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxImageFileBytes = 256ull << 20;

struct ImageJob {
  fs::path file;
  int label = 0;
};

// Decodes and preprocesses every job into out (in job order), on every core: each image lands in
// its own slot, so the pixels do not depend on the thread count. On failure the workers stop
// early, and the failed file earliest in job order among those tried is the error reported.
Status decode_jobs(const std::vector<ImageJob>& jobs, std::size_t size, ImageSet& out) {
  out.size = size;
  out.pixels.assign(jobs.size() * size * size, 0.0f);
  out.labels.resize(jobs.size());
  std::vector<std::optional<Error>> errors(jobs.size());
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (std::size_t i = next++; i < jobs.size() && !failed; i = next++) {
      out.labels[i] = jobs[i].label;
      auto bytes = read_whole_file(jobs[i].file, kMaxImageFileBytes);
      if (!bytes) {
        errors[i] = bytes.error();
        failed = true;
        continue;
      }
      auto image = decode_image(*bytes);
      Status s = image ? preprocess_image(
                             image->view(), unit_spec(size),
                             std::span<float>(out.pixels.data() + i * size * size, size * size))
                       : Status(image.error());
      if (!s) {
        errors[i] = in_file(jobs[i].file, s.error());
        failed = true;
      }
    }
  };
  const std::size_t threads = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 16);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < std::min(threads, jobs.size()); ++t)
    pool.emplace_back(work);
  work();
  for (auto& t : pool)
    t.join();
  for (const auto& e : errors) {
    if (e) return *e;
  }
  return Ok{};
}

}  // namespace

Result<ImageChannel> read_class_folders(const fs::path& dir, std::size_t size,
                                        const ImageClasses* classes) {
  ImageChannel channel;
  std::vector<fs::path> folders;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.filename().string().starts_with(".")) continue;
    if (it->is_directory(ec)) {
      folders.push_back(p);
    } else if (is_image_file(p)) {
      return make_error(ErrorCode::kInvalidArgument,
                        p.string() +
                            ": images must be in one sub-folder per class (e.g. NORMAL/, "
                            "PNEUMONIA/), not directly in the channel");
    } else {
      channel.notes.push_back("skipped " + p.string() + ": not an image or .npz file");
    }
  }
  if (ec) return make_error(ErrorCode::kInternal, dir.string() + ": cannot list: " + ec.message());
  std::sort(folders.begin(), folders.end());

  std::vector<std::pair<std::string, std::vector<fs::path>>> found;
  for (const fs::path& folder : folders) {
    std::vector<fs::path> images;
    for (const fs::path& file : list_data_files(folder)) {
      if (is_image_file(file))
        images.push_back(file);
      else
        channel.notes.push_back("skipped " + file.string() + ": not a PNG or JPEG file");
    }
    if (images.empty()) {
      channel.notes.push_back("skipped folder " + folder.string() + ": no PNG or JPEG files");
      continue;
    }
    found.emplace_back(folder.filename().string(), std::move(images));
  }
  if (found.empty()) {
    return make_error(
        ErrorCode::kNotFound,
        dir.string() + " has no .npz files and no PNG/JPEG images in class sub-folders");
  }

  if (classes == nullptr) {
    channel.classes.from_folders = true;
    for (std::size_t c = 0; c < found.size(); ++c) {
      channel.classes.labels.push_back(static_cast<double>(c));
      channel.classes.names.push_back(found[c].first);
    }
  } else {
    channel.classes = *classes;
  }
  std::vector<ImageJob> jobs;
  for (const auto& [name, images] : found) {
    const auto& names = channel.classes.names;
    const auto at = std::find(names.begin(), names.end(), name);
    if (at == names.end()) {
      std::string known;
      for (const auto& n : names)
        known += (known.empty() ? "" : ", ") + n;
      return make_error(ErrorCode::kInvalidArgument, (dir / name).string() +
                                                         ": not a training class folder "
                                                         "(training has: " +
                                                         known + ")");
    }
    for (const fs::path& file : images)
      jobs.push_back({file, static_cast<int>(at - names.begin())});
  }
  if (Status s = decode_jobs(jobs, size, channel.train); !s) return s.error();
  channel.val.size = size;
  return channel;
}

}  // namespace mls::image_readers
