#pragma once
// File plumbing for model artifacts: whole-file reads with a size cap, atomic writes, checksums.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "models/core/status.h"

namespace mls {

// Reads a whole file. Errors: kNotFound (missing), kResourceExhausted (over max_bytes),
// kInternal (unreadable); each names the path.
Result<std::string> read_whole_file(const std::filesystem::path& path, std::uint64_t max_bytes);

// Writes to "<path>.tmp-<pid>", flushes it to disk, renames it over path and flushes the
// directory, so a reader (or a killed writer) never sees a half-written file under the final name.
// On failure (a full disk, say) the temporary file is removed and path is untouched.
Status write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Lower-case hex SHA-256.
std::string sha256_hex(std::string_view bytes);

}  // namespace mls
