#include "server/train/sagemaker_config.h"

#include <nlohmann/json.hpp>

#include "models/artifact/artifact_files.h"

namespace mls::server {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint64_t kMaxConfigBytes = 1u << 20;

Result<json> read_object(const fs::path& file) {
  auto text = read_whole_file(file, kMaxConfigBytes);
  if (!text) return text.error();
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, file.string() + ": not a JSON object");
  }
  return j;
}

std::string unwrap(const json& value) {
  if (!value.is_string()) return value.dump();
  const std::string& s = value.get_ref<const std::string&>();
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    json inner = json::parse(s, nullptr, false);
    if (inner.is_string()) return inner.get<std::string>();
  }
  return s;
}

}  // namespace

Result<Hyperparameters> read_hyperparameters(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return Hyperparameters{};
  auto j = read_object(file);
  if (!j) return j.error();
  Hyperparameters hp;
  for (auto& [key, value] : j->items())
    hp[key] = unwrap(value);
  return hp;
}

Result<std::optional<std::string>> read_json_config(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::optional<std::string>{};
  auto j = read_object(file);
  if (!j) return j.error();
  return std::optional<std::string>{j->dump()};
}

}  // namespace mls::server
