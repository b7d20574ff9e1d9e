// .npz via libzip: the archive is opened once; each read opens the member, checks its declared
// size against the budget before allocating, and reads it whole (libzip checks the CRC at the end).

#include "models/image/npz.h"

#include <zip.h>

#include <algorithm>
#include <utility>

namespace mls {

struct NpzArchive::Impl {
  std::string bytes;  // the archive itself when opened from bytes (libzip reads it in place)
  zip_t* zip = nullptr;
  NpzLimits limits;
  std::string origin;  // the path, or "npz bytes", for messages
  ~Impl() {
    if (zip != nullptr) zip_discard(zip);
  }
};

namespace {

std::string zip_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

std::string strip_npy(std::string_view name) {
  if (name.size() > 4 && name.substr(name.size() - 4) == ".npy") name.remove_suffix(4);
  return std::string(name);
}

Result<std::vector<std::string>> list_members(zip_t* zip, const std::string& origin) {
  const zip_int64_t n = zip_get_num_entries(zip, 0);
  if (n < 0) return make_error(ErrorCode::kInvalidArgument, origin + ": cannot list the zip");
  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(n));
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(zip, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (name == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, origin + ": unreadable member name");
    }
    names.emplace_back(name);
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
  int code = 0;
  impl->zip = zip_open(impl->origin.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (impl->zip == nullptr) {
    const ErrorCode ec = code == ZIP_ER_NOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument;
    return make_error(ec, impl->origin + ": not a readable .npz (" + zip_error_text(code) + ")");
  }
  auto names = list_members(impl->zip, impl->origin);
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
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source =
      zip_source_buffer_create(impl->bytes.data(), impl->bytes.size(), 0, &error);
  if (source == nullptr) {
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return make_error(ErrorCode::kInternal, "npz: " + text);
  }
  impl->zip = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (impl->zip == nullptr) {
    zip_source_free(source);
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return make_error(ErrorCode::kInvalidArgument, "not a readable .npz (" + text + ")");
  }
  zip_error_fini(&error);
  auto names = list_members(impl->zip, impl->origin);
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
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(impl_->zip, member->c_str(), ZIP_FL_ENC_RAW, &st) != 0 ||
      (st.valid & ZIP_STAT_SIZE) == 0) {
    return make_error(ErrorCode::kInvalidArgument, where + ": cannot stat the member");
  }
  if (st.size > impl_->limits.max_member_bytes) {
    return make_error(ErrorCode::kResourceExhausted,
                      where + ": " + std::to_string(st.size) + " bytes uncompressed, over the " +
                          std::to_string(impl_->limits.max_member_bytes) + "-byte limit");
  }
  zip_file_t* file = zip_fopen_index(impl_->zip, st.index, 0);
  if (file == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      where + ": cannot open (" + std::string(zip_strerror(impl_->zip)) + ")");
  }
  std::string data(static_cast<std::size_t>(st.size), '\0');
  std::size_t got = 0;
  std::string failure;
  while (got < data.size()) {
    const zip_int64_t n = zip_fread(file, data.data() + got, data.size() - got);
    if (n < 0) {
      failure = zip_file_strerror(file);
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
    char extra = 0;  // the data must end where the directory says; reading on also checks the CRC
    const zip_int64_t n = zip_fread(file, &extra, 1);
    if (n < 0) failure = zip_file_strerror(file);
    if (n > 0) failure = "holds more data than its declared size";
  }
  const int close_code = zip_fclose(file);
  if (failure.empty() && close_code != 0) failure = zip_error_text(close_code);
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
