#include "models/cnn/cnn_checkpoint.h"

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "models/artifact/artifact_files.h"

namespace mls::cnn {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian");

constexpr std::string_view kMagic = "MLSCKPT1";
constexpr std::size_t kHashChars = 64;
constexpr std::uint64_t kMaxCheckpointBytes = 8ull << 30;

Error corrupt(const std::string& what) {
  return make_error(ErrorCode::kDataLoss, "not a usable checkpoint: " + what);
}

void append_floats(std::string& out, const std::vector<float>& v) {
  if (!v.empty()) out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

json history_to_json(const std::vector<EpochRecord>& history) {
  json out = json::array();
  for (const EpochRecord& r : history) {
    out.push_back({{"epoch", r.epoch},
                   {"train_loss", r.train_loss},
                   {"has_validation", r.has_validation},
                   {"validation_loss", r.validation_loss},
                   {"validation_accuracy", r.validation_accuracy},
                   {"validation_auc", r.validation_auc},
                   {"improved", r.improved}});
  }
  return out;
}

std::vector<EpochRecord> history_from_json(const json& j) {
  std::vector<EpochRecord> out;
  for (const json& e : j) {
    EpochRecord r;
    r.epoch = e.at("epoch").get<std::size_t>();
    r.train_loss = e.at("train_loss").get<double>();
    r.has_validation = e.at("has_validation").get<bool>();
    r.validation_loss = e.at("validation_loss").get<double>();
    r.validation_accuracy = e.at("validation_accuracy").get<double>();
    r.validation_auc = e.at("validation_auc").get<double>();
    r.improved = e.at("improved").get<bool>();
    out.push_back(r);
  }
  return out;
}

}  // namespace

std::string encode_checkpoint(const CnnCheckpoint& c) {
  json h = {{"fingerprint", c.fingerprint},
            {"epoch", c.epoch},
            {"batch", c.batch},
            {"epoch_loss_sum", c.epoch_loss_sum},
            {"epoch_images", c.epoch_images},
            {"finished", c.finished},
            {"adam_steps", c.adam_steps},
            {"dropout_state", c.dropout_state},
            {"has_best", c.has_best},
            {"best_auc", c.best_auc},
            {"best_loss", c.best_loss},
            {"best_epoch", c.best_epoch},
            {"epochs_without_improvement", c.epochs_without_improvement},
            {"history", history_to_json(c.history)},
            {"counts", {c.params.size(), c.adam_m.size(), c.adam_v.size(), c.best_params.size()}}};
  const std::string header = h.dump();
  std::string out(kMagic);
  const auto len = static_cast<std::uint32_t>(header.size());
  out.append(reinterpret_cast<const char*>(&len), sizeof len);
  out += header;
  for (const auto* v : {&c.params, &c.adam_m, &c.adam_v, &c.best_params})
    append_floats(out, *v);
  out += sha256_hex(out);
  return out;
}

Result<CnnCheckpoint> decode_checkpoint(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 4 + kHashChars || bytes.substr(0, kMagic.size()) != kMagic) {
    return corrupt("no MLSCKPT1 header (another version, or not a checkpoint)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kHashChars);
  if (sha256_hex(body) != bytes.substr(body.size())) {
    return corrupt("SHA-256 does not match (truncated or altered)");
  }
  std::uint32_t len = 0;
  std::memcpy(&len, body.data() + kMagic.size(), sizeof len);
  std::size_t at = kMagic.size() + sizeof len;
  if (len > body.size() - at) return corrupt("header runs past the end");
  const json h = json::parse(body.substr(at, len), nullptr, /*allow_exceptions=*/false);
  at += len;
  if (h.is_discarded() || !h.is_object()) return corrupt("header is not a JSON object");
  CnnCheckpoint c;
  try {
    c.fingerprint = h.at("fingerprint").get<std::string>();
    c.epoch = h.at("epoch").get<std::size_t>();
    c.batch = h.at("batch").get<std::size_t>();
    c.epoch_loss_sum = h.at("epoch_loss_sum").get<double>();
    c.epoch_images = h.at("epoch_images").get<std::size_t>();
    c.finished = h.at("finished").get<bool>();
    c.adam_steps = h.at("adam_steps").get<std::size_t>();
    c.dropout_state = h.at("dropout_state").get<std::uint64_t>();
    c.has_best = h.at("has_best").get<bool>();
    c.best_auc = h.at("best_auc").get<double>();
    c.best_loss = h.at("best_loss").get<double>();
    c.best_epoch = h.at("best_epoch").get<std::size_t>();
    c.epochs_without_improvement = h.at("epochs_without_improvement").get<std::size_t>();
    c.history = history_from_json(h.at("history"));
    const auto counts = h.at("counts").get<std::vector<std::size_t>>();
    if (counts.size() != 4) return corrupt("header counts must list 4 arrays");
    std::size_t total = 0;
    for (std::size_t n : counts) {
      if (n > (body.size() - at) / sizeof(float)) return corrupt("arrays run past the end");
      total += n;
    }
    if (total * sizeof(float) != body.size() - at) return corrupt("array sizes do not add up");
    for (auto [v, n] : {std::pair{&c.params, counts[0]}, std::pair{&c.adam_m, counts[1]},
                        std::pair{&c.adam_v, counts[2]}, std::pair{&c.best_params, counts[3]}}) {
      v->resize(n);
      if (n > 0) std::memcpy(v->data(), body.data() + at, n * sizeof(float));
      at += n * sizeof(float);
    }
  } catch (const json::exception& e) {
    return corrupt(std::string("header: ") + e.what());
  }
  if (c.adam_m.size() != c.params.size() || c.adam_v.size() != c.params.size() ||
      (!c.best_params.empty() && c.best_params.size() != c.params.size())) {
    return corrupt("optimizer or best-weight arrays do not match the parameter count");
  }
  return c;
}

fs::path checkpoint_path(const fs::path& dir) {
  return dir / kCheckpointFileName;
}

Status write_checkpoint(const fs::path& dir, const CnnCheckpoint& checkpoint) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kInternal, dir.string() + ": cannot create: " + ec.message());
  }
  return write_file_atomically(checkpoint_path(dir), encode_checkpoint(checkpoint));
}

Result<std::optional<CnnCheckpoint>> read_checkpoint(const fs::path& dir) {
  const fs::path path = checkpoint_path(dir);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<CnnCheckpoint>{};
  auto bytes = read_whole_file(path, kMaxCheckpointBytes);
  if (!bytes) return bytes.error();
  auto checkpoint = decode_checkpoint(*bytes);
  if (!checkpoint) {
    return make_error(checkpoint.error().code, path.string() + ": " + checkpoint.error().message);
  }
  return std::optional<CnnCheckpoint>{std::move(checkpoint).value()};
}

Status remove_checkpoint(const fs::path& dir) {
  const fs::path path = checkpoint_path(dir);
  std::error_code ec;
  fs::remove(path, ec);
  if (ec)
    return make_error(ErrorCode::kInternal, path.string() + ": cannot remove: " + ec.message());
  return Ok{};
}

}  // namespace mls::cnn
