#include "models/artifact/artifact_files.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace mls {

namespace fs = std::filesystem;

Result<std::string> read_whole_file(const fs::path& path, std::uint64_t max_bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return make_error(ErrorCode::kNotFound, path.string() + ": no such file");
  const auto size = fs::file_size(path, ec);
  if (ec) return make_error(ErrorCode::kInternal, path.string() + ": " + ec.message());
  if (size > max_bytes) {
    return make_error(ErrorCode::kResourceExhausted, path.string() + ": " + std::to_string(size) +
                                                         " bytes is over the limit of " +
                                                         std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error(ErrorCode::kInternal,
                      path.string() + ": cannot open: " + std::strerror(errno));
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uint64_t>(in.gcount()) != size) {
    return make_error(ErrorCode::kInternal, path.string() + ": short read");
  }
  return bytes;
}

Status write_file_atomically(const fs::path& path, std::string_view bytes) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  auto fail = [&](const char* what) {
    const std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::kInternal, tmp.string() + ": " + what + ": " + reason);
  };
  if (fd < 0) return fail("cannot create");
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write");
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot flush");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::kInternal,
                      tmp.string() + ": cannot close: " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::kInternal,
                      path.string() + ": cannot rename into place: " + reason);
  }
  // The rename is durable only once the directory entry is on disk too.
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const int dir_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    const bool synced = ::fsync(dir_fd) == 0 || errno == EINVAL;  // some file systems refuse
    const std::string reason = synced ? "" : std::strerror(errno);
    ::close(dir_fd);
    if (!synced) {
      return make_error(ErrorCode::kInternal,
                        parent.string() + ": cannot flush the directory: " + reason);
    }
  }
  return Ok{};
}

std::string sha256_hex(std::string_view bytes) {
  // Only a digest is needed: skipping openssl.cnf saves several milliseconds of start-up, and a
  // system-wide OpenSSL configuration has nothing to say about SHA-256 of our own files.
  static const bool initialised = OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) == 1;
  (void)initialised;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

}  // namespace mls
