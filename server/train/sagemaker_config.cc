#include "server/train/sagemaker_config.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "models/artifact/artifact_files.h"
#include "models/core/json_depth.h"

namespace mls::server {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint64_t kMaxConfigBytes = 1u << 20;
// Deepest nesting accepted in a config file. nlohmann's parser is iterative but dump() (used on
// every value) recurses once per level, so a 1 MiB file of '[' would overflow the stack.
constexpr int kMaxConfigDepth = 64;

Result<json> read_object(const fs::path& file) {
  auto text = read_whole_file(file, kMaxConfigBytes);
  if (!text) return text.error();
  CappedJson parsed = parse_json_capped(*text, kMaxConfigDepth);
  if (parsed.too_deep) {
    return make_error(ErrorCode::kInvalidArgument, file.string() + ": JSON nested deeper than " +
                                                       std::to_string(kMaxConfigDepth) + " levels");
  }
  json& j = parsed.value;
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

std::string hyperparameter_or(const Hyperparameters& hp, std::string_view key,
                              std::string fallback) {
  auto it = hp.find(key);
  return it == hp.end() ? fallback : it->second;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    const std::size_t comma = std::min(s.find(',', pos), s.size());
    std::string item = s.substr(pos, comma - pos);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    out.push_back(item);
    pos = comma + 1;
  }
  return out;
}

std::string hyperparameters_json(const Hyperparameters& hp) {
  json out = json::object();
  for (const auto& [k, v] : hp)
    out[k] = v;
  return out.dump();
}

void print_scores(const std::string& prefix, const ClassificationScores& s, json& metrics) {
  const std::pair<const char*, double> values[] = {
      {"accuracy", s.accuracy}, {"auc", s.auc}, {"f1", s.f1}, {"log_loss", s.log_loss}};
  for (const auto& [name, value] : values) {
    std::printf("%s:%s=%.6f\n", prefix.c_str(), name, value);
    metrics[prefix + ":" + name] = value;
  }
  std::fflush(stdout);
}

}  // namespace mls::server
