#pragma once
// NumPy .npz archives (zip files of .npy members), read with minizip: stored or deflated members,
// ZIP64 included (NumPy writes it). Opened from a path or from bytes held by the archive. Not for
// use by two threads at once (reads move the archive's one cursor).

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/status.h"
#include "models/image/npy.h"

namespace mls {

struct NpzLimits {
  std::size_t max_member_bytes = std::size_t{1} << 31;  // uncompressed size of one member (2 GiB)
};

class NpzArchive {
 public:
  static Result<NpzArchive> open_file(const std::filesystem::path& path,
                                      const NpzLimits& limits = {});
  static Result<NpzArchive> open_bytes(std::string bytes, const NpzLimits& limits = {});

  NpzArchive(NpzArchive&&) noexcept;
  NpzArchive& operator=(NpzArchive&&) noexcept;
  ~NpzArchive();

  // Member file names as stored ("train_images.npy", ...).
  const std::vector<std::string>& members() const { return members_; }
  // Array keys: member names without the ".npy" suffix ("train_images", ...).
  std::vector<std::string> keys() const;
  bool contains(std::string_view key_or_member) const;

  // The raw bytes of a member, named by key or by member name. Missing -> kNotFound;
  // over the size budget -> kResourceExhausted; corrupt (CRC, bad deflate stream) ->
  // kInvalidArgument.
  Result<std::string> read_member(std::string_view key_or_member) const;
  // read_member + parse_npy.
  Result<NpyArray> read_array(std::string_view key_or_member,
                              const NpyLimits& npy_limits = {}) const;

 private:
  struct Impl;
  explicit NpzArchive(std::unique_ptr<Impl> impl);
  const std::string* find(std::string_view key_or_member) const;

  std::unique_ptr<Impl> impl_;
  std::vector<std::string> members_;
};

}  // namespace mls
