// .npz via minizip (zlib's zip reader): the archive is opened once and its directory listed; each
// read goes back to the member's directory entry, checks its declared size against the budget
// before allocating, and reads it whole (minizip checks the CRC when the member is closed).

#include "models/image/npz.h"

#include <unzip.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <utility>

namespace mls {

namespace {

// An archive held in memory, read through minizip's file callbacks.
struct MemoryFile {
  std::string_view bytes;
  std::uint64_t at = 0;
};

voidpf open_memory(voidpf opaque, const void* /*name*/, int mode) {
  if ((mode & ZLIB_FILEFUNC_MODE_READWRITEFILTER) != ZLIB_FILEFUNC_MODE_READ) return nullptr;
  auto* file = static_cast<MemoryFile*>(opaque);
  file->at = 0;
  return file;
}

uLong read_memory(voidpf, voidpf stream, void* buf, uLong size) {
  auto* file = static_cast<MemoryFile*>(stream);
  const std::uint64_t left =
      file->bytes.size() - std::min<std::uint64_t>(file->at, file->bytes.size());
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, left));
  if (n != 0) std::memcpy(buf, file->bytes.data() + file->at, n);
  file->at += n;
  return static_cast<uLong>(n);
}

uLong write_memory(voidpf, voidpf, const void*, uLong) {
  return 0;  // read only
}

ZPOS64_T tell_memory(voidpf, voidpf stream) {
  return static_cast<MemoryFile*>(stream)->at;
}

long seek_memory(voidpf, voidpf stream, ZPOS64_T offset, int origin) {
  auto* file = static_cast<MemoryFile*>(stream);
  std::uint64_t base = 0;
  if (origin == ZLIB_FILEFUNC_SEEK_CUR) base = file->at;
  if (origin == ZLIB_FILEFUNC_SEEK_END) base = file->bytes.size();
  if (offset > file->bytes.size() || base > file->bytes.size() - offset) return -1;
  file->at = base + offset;
  return 0;
}

int close_memory(voidpf, voidpf) {
  return 0;
}

int error_memory(voidpf, voidpf) {
  return 0;
}

std::string unzip_error_text(int code) {
  switch (code) {
    case UNZ_ERRNO:
      return std::string("read error: ") + std::strerror(errno);
    case UNZ_EOF:
      return "unexpected end of data";
    case UNZ_PARAMERROR:
      return "invalid request";
    case UNZ_BADZIPFILE:
      return "not a zip archive, or a damaged one";
    case UNZ_INTERNALERROR:
      return "internal error";
    case UNZ_CRCERROR:
      return "CRC mismatch";
    default:
      return code < 0 ? "inflate error " + std::to_string(code) : "error " + std::to_string(code);
  }
}

std::string strip_npy(std::string_view name) {
  if (name.size() > 4 && name.substr(name.size() - 4) == ".npy") name.remove_suffix(4);
  return std::string(name);
}

}  // namespace

struct NpzArchive::Impl {
  std::string bytes;  // the archive itself when opened from bytes (minizip reads it in place)
  MemoryFile memory;
  unzFile zip = nullptr;
  std::vector<unz64_file_pos> positions;  // each member's directory entry, in members_ order
  NpzLimits limits;
  std::string origin;  // the path, or "npz", for messages
  ~Impl() {
    if (zip != nullptr) unzClose(zip);
  }
};

namespace {

// Lists the members' names and where their directory entries are.
Result<std::vector<std::string>> list_members(unzFile zip, const std::string& origin,
                                              std::vector<unz64_file_pos>& positions) {
  std::vector<std::string> names;
  int code = unzGoToFirstFile(zip);
  while (code == UNZ_OK) {
    unz_file_info64 info;
    char name[1024];
    code = unzGetCurrentFileInfo64(zip, &info, name, sizeof name, nullptr, 0, nullptr, 0);
    if (code != UNZ_OK) break;
    if (info.size_filename >= sizeof name) {
      return make_error(ErrorCode::kInvalidArgument, origin + ": a member name is too long");
    }
    unz64_file_pos position;
    code = unzGetFilePos64(zip, &position);
    if (code != UNZ_OK) break;
    names.emplace_back(name, info.size_filename);
    positions.push_back(position);
    code = unzGoToNextFile(zip);
  }
  if (code != UNZ_END_OF_LIST_OF_FILE) {
    return make_error(ErrorCode::kInvalidArgument,
                      origin + ": cannot list the zip (" + unzip_error_text(code) + ")");
  }
  if (names.empty()) return make_error(ErrorCode::kInvalidArgument, origin + ": holds no arrays");
  return names;
}

}  // namespace

NpzArchive::NpzArchive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NpzArchive::NpzArchive(NpzArchive&&) noexcept = default;
NpzArchive& NpzArchive::operator=(NpzArchive&&) noexcept = default;
NpzArchive::~NpzArchive() = default;

Result<NpzArchive> NpzArchive::open_file(const std::filesystem::path& path,
                                         const NpzLimits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  impl->origin = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return make_error(ErrorCode::kNotFound, impl->origin + ": no such file");
  }
  impl->zip = unzOpen64(impl->origin.c_str());
  if (impl->zip == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      impl->origin + ": not a readable .npz (not a zip archive, or a damaged one)");
  }
  auto names = list_members(impl->zip, impl->origin, impl->positions);
  if (!names.ok()) return names.error();
  NpzArchive archive(std::move(impl));
  archive.members_ = std::move(names).value();
  return archive;
}

Result<NpzArchive> NpzArchive::open_bytes(std::string bytes, const NpzLimits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  impl->origin = "npz";
  impl->bytes = std::move(bytes);
  impl->memory.bytes = impl->bytes;
  zlib_filefunc64_def io{};
  io.zopen64_file = open_memory;
  io.zread_file = read_memory;
  io.zwrite_file = write_memory;
  io.ztell64_file = tell_memory;
  io.zseek64_file = seek_memory;
  io.zclose_file = close_memory;
  io.zerror_file = error_memory;
  io.opaque = &impl->memory;
  impl->zip = unzOpen2_64("npz", &io);
  if (impl->zip == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      "not a readable .npz (not a zip archive, or a damaged one)");
  }
  auto names = list_members(impl->zip, impl->origin, impl->positions);
  if (!names.ok()) return names.error();
  NpzArchive archive(std::move(impl));
  archive.members_ = std::move(names).value();
  return archive;
}

std::vector<std::string> NpzArchive::keys() const {
  std::vector<std::string> keys;
  for (const auto& m : members_)
    keys.push_back(strip_npy(m));
  return keys;
}

const std::string* NpzArchive::find(std::string_view key_or_member) const {
  for (const auto& m : members_) {
    if (m == key_or_member) return &m;
  }
  for (const auto& m : members_) {
    if (m.size() == key_or_member.size() + 4 && m.starts_with(key_or_member) &&
        m.ends_with(".npy")) {
      return &m;
    }
  }
  return nullptr;
}

bool NpzArchive::contains(std::string_view key_or_member) const {
  return find(key_or_member) != nullptr;
}

Result<std::string> NpzArchive::read_member(std::string_view key_or_member) const {
  const std::string* member = find(key_or_member);
  const std::string& origin = impl_->origin;
  if (member == nullptr) {
    std::string known;
    for (const auto& k : keys())
      known += (known.empty() ? "" : ", ") + k;
    return make_error(
        ErrorCode::kNotFound,
        origin + " has no array '" + std::string(key_or_member) + "' (it has: " + known + ")");
  }
  const std::string where = origin + ":" + *member;
  unzFile zip = impl_->zip;
  const auto index = static_cast<std::size_t>(member - members_.data());
  unz_file_info64 info;
  if (unzGoToFilePos64(zip, &impl_->positions[index]) != UNZ_OK ||
      unzGetCurrentFileInfo64(zip, &info, nullptr, 0, nullptr, 0, nullptr, 0) != UNZ_OK) {
    return make_error(ErrorCode::kInvalidArgument, where + ": cannot stat the member");
  }
  if (info.uncompressed_size > impl_->limits.max_member_bytes) {
    return make_error(ErrorCode::kResourceExhausted,
                      where + ": " + std::to_string(info.uncompressed_size) +
                          " bytes uncompressed, over the " +
                          std::to_string(impl_->limits.max_member_bytes) + "-byte limit");
  }
  if (const int code = unzOpenCurrentFile(zip); code != UNZ_OK) {
    return make_error(ErrorCode::kInvalidArgument,
                      where + ": cannot open (" + unzip_error_text(code) + ")");
  }
  std::string data(static_cast<std::size_t>(info.uncompressed_size), '\0');
  std::size_t got = 0;
  std::string failure;
  constexpr std::size_t kMaxRead = std::size_t{1} << 30;  // minizip reads at most UINT_MAX at once
  while (got < data.size()) {
    const auto want = static_cast<unsigned>(std::min(kMaxRead, data.size() - got));
    const int n = unzReadCurrentFile(zip, data.data() + got, want);
    if (n < 0) {
      failure = unzip_error_text(n);
      break;
    }
    if (n == 0) {
      failure =
          "ends after " + std::to_string(got) + " of " + std::to_string(data.size()) + " bytes";
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  if (failure.empty()) {
    char extra = 0;  // the data must end where the directory says
    const int n = unzReadCurrentFile(zip, &extra, 1);
    if (n < 0) failure = unzip_error_text(n);
    if (n > 0) failure = "holds more data than its declared size";
  }
  // Closing checks the CRC once the whole member was read.
  const int close_code = unzCloseCurrentFile(zip);
  if (failure.empty() && close_code != UNZ_OK) failure = unzip_error_text(close_code);
  if (!failure.empty()) {
    return make_error(ErrorCode::kInvalidArgument, where + ": corrupt member (" + failure + ")");
  }
  return data;
}

Result<NpyArray> NpzArchive::read_array(std::string_view key_or_member,
                                        const NpyLimits& npy_limits) const {
  auto bytes = read_member(key_or_member);
  if (!bytes.ok()) return bytes.error();
  auto array = parse_npy(*bytes, npy_limits);
  if (!array.ok()) {
    Error e = array.error();
    e.message = impl_->origin + ":" + std::string(key_or_member) + ": " + e.message;
    return e;
  }
  return array;
}

}  // namespace mls
