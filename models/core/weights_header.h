#pragma once
// The start every weights file shares (forest.bin, cnn.bin): a fixed-size little-endian header that
// begins with an 8-byte magic and a u32 format version. One reader, so both files refuse damage
// with the same words.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "models/core/status.h"

namespace mls {

// Copies the header out of bytes and checks its magic and version; on success bytes is left at
// the payload. Errors: kDataLoss (too short, bad magic), kUnsupported (another version).
template <class Header>
Result<Header> read_weights_header(std::string_view& bytes, const char (&magic)[8],
                                   std::uint32_t version, std::string_view kind) {
  static_assert(std::is_trivially_copyable_v<Header>);
  Header h{};
  if (bytes.size() < sizeof h) {
    return make_error(ErrorCode::kDataLoss, "truncated: " + std::to_string(bytes.size()) +
                                                " bytes is shorter than the header");
  }
  std::memcpy(&h, bytes.data(), sizeof h);
  if (std::memcmp(h.magic, magic, sizeof magic) != 0) {
    return make_error(ErrorCode::kDataLoss,
                      "not a " + std::string(kind) + " weights file (bad magic)");
  }
  if (h.version != version) {
    return make_error(ErrorCode::kUnsupported, "weights version " + std::to_string(h.version) +
                                                   " is not supported (this build reads version " +
                                                   std::to_string(version) + ")");
  }
  bytes.remove_prefix(sizeof h);
  return h;
}

}  // namespace mls
