#include "server/registry/model_registry.h"

#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <thread>

#include "models/artifact/model_artifact.h"

namespace mls::server {

namespace fs = std::filesystem;

namespace {

// One prediction on an all-zero row: proves the weights are usable before /ping says so.
std::string warm_up(const Model& model) {
  Matrix x;
  x.rows = 1;
  x.cols = model.num_features();
  x.values.assign(x.cols, 0.0f);
  std::vector<float> out(model.num_classes());
  model.predict_proba(x.view(), out);
  float sum = 0;
  for (float p : out) {
    if (!std::isfinite(p) || p < 0)
      return "warm-up prediction gave a non-finite or negative probability";
    sum += p;
  }
  if (std::abs(sum - 1.0f) > 1e-3f) return "warm-up probabilities do not sum to 1";
  return {};
}

// Loads, warms up and wraps one model; the error is the reason it cannot serve.
Result<LoadedModel> load_entry(const fs::path& dir, std::string name,
                               const BatchingOptions& batching) {
  const auto start = std::chrono::steady_clock::now();
  auto artifact = load_model(dir);
  if (!artifact) return artifact.error();
  if (name.empty()) name = artifact->name.empty() ? dir.filename().string() : artifact->name;
  if (std::string why = warm_up(*artifact->model); !why.empty())
    return make_error(ErrorCode::kDataLoss, why);
  LoadedModel entry;
  entry.name = std::move(name);
  entry.dir = dir.string();
  entry.model = artifact->model;
  entry.encoder = std::make_shared<const PredictionEncoder>(artifact->model->info());
  if (artifact->model->info().input_kind == InputKind::kImage)
    entry.batcher = std::make_shared<DynamicBatcher>(artifact->model, entry.name, batching.images);
  else if (batching.rows)
    entry.batcher = std::make_shared<DynamicBatcher>(artifact->model, entry.name, *batching.rows);
  entry.artifact_bytes = artifact->bytes;
  entry.load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return entry;
}

void add_entry(Result<LoadedModel> entry, const fs::path& dir, const std::string& name,
               RegistrySnapshot& snap) {
  if (!entry) {
    snap.failures.push_back({name.empty() ? dir.filename().string() : name, entry.error().message});
    return;
  }
  snap.models.push_back(std::move(entry).value());
}

void load_one(const fs::path& dir, const std::string& name, const BatchingOptions& batching,
              RegistrySnapshot& snap) {
  add_entry(load_entry(dir, name, batching), dir, name, snap);
}

// Loads the model directories of a multi-model tree several at a time, one per core: start-up then
// waits for the slowest model rather than for the sum of all. Results in the order of `dirs`.
std::vector<Result<LoadedModel>> load_entries(const std::vector<fs::path>& dirs,
                                              const BatchingOptions& batching) {
  std::vector<std::optional<Result<LoadedModel>>> results(dirs.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < dirs.size(); i = next++)
      results[i].emplace(load_entry(dirs[i], dirs[i].filename().string(), batching));
  };
  const std::size_t threads =
      std::min<std::size_t>(dirs.size(), std::max(1u, std::thread::hardware_concurrency()));
  {
    std::vector<std::jthread> helpers;
    for (std::size_t t = 1; t < threads; ++t)
      helpers.emplace_back(work);
    work();
  }
  std::vector<Result<LoadedModel>> out;
  out.reserve(dirs.size());
  for (auto& r : results)
    out.push_back(std::move(*r));
  return out;
}

void log_loaded(const LoadedModel& m) {
  const ModelInfo& info = m.model->info();
  if (info.input_kind == InputKind::kImage) {
    spdlog::info(
        "model '{}' loaded from {} ({}, {}x{} gray images, {} classes, batches of up to {} on {} "
        "compute thread(s)) in {:.1f} ms",
        m.name, m.dir, info.model_type, info.image.size, info.image.size, m.model->num_classes(),
        m.batcher->options().max_batch, m.batcher->options().threads, m.load_seconds * 1e3);
  } else if (m.batcher) {
    spdlog::info(
        "model '{}' loaded from {} ({}, {} features, {} classes; large requests batched up to {} "
        "rows on {} compute thread(s)) in {:.1f} ms",
        m.name, m.dir, info.model_type, m.model->num_features(), m.model->num_classes(),
        m.batcher->options().max_batch, m.batcher->options().threads, m.load_seconds * 1e3);
  } else {
    spdlog::info("model '{}' loaded from {} ({}, {} features, {} classes) in {:.1f} ms", m.name,
                 m.dir, info.model_type, m.model->num_features(), m.model->num_classes(),
                 m.load_seconds * 1e3);
  }
}

// Why dir/manifest.json cannot even be looked at (a permission problem must not pass for a
// missing manifest); empty when it exists or is simply absent.
std::string manifest_access_error(const fs::path& dir) {
  const fs::path manifest = dir / "manifest.json";
  struct stat st {};
  if (::stat(manifest.c_str(), &st) != 0 && errno != ENOENT && errno != ENOTDIR)
    return "cannot read " + manifest.string() + ": " + std::strerror(errno);
  return {};
}

// Why a sub-directory without a manifest is not a model.
std::string not_a_model_reason(const fs::path& sub) {
  std::string why = manifest_access_error(sub);
  return why.empty() ? "no manifest.json in " + sub.string() : why;
}

// "no model could be loaded from DIR (a: why; b: why)": what /ping says when nothing loaded.
std::string nothing_loaded_reason(const fs::path& dir, const std::vector<FailedModel>& failures) {
  std::string out = "no model could be loaded from " + dir.string() + " (";
  for (std::size_t i = 0; i < failures.size(); ++i)
    out += (i == 0 ? "" : "; ") + failures[i].name + ": " + failures[i].reason;
  return out + ")";
}

void sort_by_name(std::vector<LoadedModel>& models) {
  std::sort(models.begin(), models.end(), [](auto& a, auto& b) { return a.name < b.name; });
}

}  // namespace

const LoadedModel* RegistrySnapshot::find(std::string_view name) const {
  for (const LoadedModel& m : models) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::string RegistrySnapshot::names() const {
  std::string out;
  for (const LoadedModel& m : models)
    out += (out.empty() ? "" : ", ") + m.name;
  return out.empty() ? "(none)" : out;
}

ModelRegistry::ModelRegistry() : snapshot_(std::make_shared<const RegistrySnapshot>()) {}

void ModelRegistry::publish(std::shared_ptr<const RegistrySnapshot> next) {
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.swap(next);
  }
  // next now holds the old snapshot: released here, outside the lock.
}

void ModelRegistry::stop() {
  std::lock_guard lock(write_mutex_);
  for (const LoadedModel& m : snapshot()->models) {
    if (m.batcher) m.batcher->stop();
  }
}

void ModelRegistry::load_all(const fs::path& dir, const BatchingOptions& batching,
                             bool allow_empty) {
  std::lock_guard lock(write_mutex_);
  batching_ = batching;
  auto snap = std::make_shared<RegistrySnapshot>();
  std::error_code ec;
  if (allow_empty && !fs::exists(dir, ec)) {
    // A multi-model endpoint may start with nothing to load.
  } else if (!fs::is_directory(dir, ec)) {
    snap->reason = "model directory " + dir.string() + " does not exist or is not a directory";
  } else if (is_model_dir(dir)) {
    load_one(dir, {}, batching, *snap);
  } else {
    std::vector<fs::path> subdirs;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory(ec) && !it->path().filename().string().starts_with("."))
        subdirs.push_back(it->path());
    }
    std::sort(subdirs.begin(), subdirs.end());
    std::vector<fs::path> model_dirs;
    for (const fs::path& sub : subdirs) {
      if (is_model_dir(sub)) model_dirs.push_back(sub);
    }
    auto entries = load_entries(model_dirs, batching);
    // Reported in directory order, as if loaded one by one.
    for (std::size_t i = 0, loaded = 0; i < subdirs.size(); ++i) {
      const std::string name = subdirs[i].filename().string();
      if (loaded < model_dirs.size() && model_dirs[loaded] == subdirs[i]) {
        add_entry(std::move(entries[loaded]), subdirs[i], name, *snap);
        ++loaded;
      } else {
        snap->failures.push_back({name, not_a_model_reason(subdirs[i])});
      }
    }
    if (ec) snap->reason = "cannot read model directory " + dir.string() + ": " + ec.message();
  }
  sort_by_name(snap->models);
  if (snap->models.empty() && allow_empty) {
    snap->state = RegistrySnapshot::State::kReady;
    snap->reason.clear();
  } else if (snap->models.empty()) {
    snap->state = RegistrySnapshot::State::kUnavailable;
    if (snap->reason.empty()) {
      if (!snap->failures.empty())
        snap->reason = nothing_loaded_reason(dir, snap->failures);
      else if (std::string why = manifest_access_error(dir); !why.empty())
        snap->reason = why;  // a listable but unsearchable directory: not "no model"
      else
        snap->reason = "no model found in " + dir.string();
    }
  } else {
    snap->state = RegistrySnapshot::State::kReady;
  }
  for (const LoadedModel& m : snap->models)
    log_loaded(m);
  for (const FailedModel& f : snap->failures)
    spdlog::error("model '{}' failed to load: {}", f.name, f.reason);
  if (snap->state == RegistrySnapshot::State::kUnavailable)
    spdlog::error("not ready: {}", snap->reason);
  publish(std::move(snap));
}

Result<LoadedModel> ModelRegistry::load(const std::string& name, const fs::path& dir,
                                        std::uint64_t memory_budget_bytes) {
  std::lock_guard lock(write_mutex_);
  auto old = snapshot();
  if (old->find(name) != nullptr) {
    return make_error(ErrorCode::kAlreadyExists, "model '" + name + "' is already loaded");
  }
  if (memory_budget_bytes != 0) {
    std::uint64_t used = 0;
    for (const LoadedModel& m : old->models)
      used += m.artifact_bytes;
    std::error_code ec;
    std::uint64_t incoming = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) incoming += it->file_size(ec);
    }
    if (used + incoming > memory_budget_bytes) {
      return make_error(ErrorCode::kResourceExhausted,
                        "loading '" + name + "' (" + std::to_string(incoming) +
                            " bytes) would exceed the model memory budget of " +
                            std::to_string(memory_budget_bytes) + " bytes (" +
                            std::to_string(used) + " in use); unload a model first");
    }
  }
  auto entry = load_entry(dir, name, batching_);
  if (!entry) {
    spdlog::error("model '{}' failed to load from {}: {}", name, dir.string(),
                  entry.error().message);
    return entry.error();
  }
  auto next = std::make_shared<RegistrySnapshot>(*old);
  next->models.push_back(*entry);
  sort_by_name(next->models);
  std::erase_if(next->failures, [&](const FailedModel& f) { return f.name == name; });
  next->state = RegistrySnapshot::State::kReady;
  next->reason.clear();
  log_loaded(*entry);
  publish(std::move(next));
  return entry;
}

Status ModelRegistry::unload(const std::string& name) {
  std::shared_ptr<DynamicBatcher> batcher;
  {
    std::lock_guard lock(write_mutex_);
    auto old = snapshot();
    const LoadedModel* m = old->find(name);
    if (m == nullptr) {
      return make_error(ErrorCode::kNotFound,
                        "model '" + name + "' is not loaded; loaded models: " + old->names());
    }
    batcher = m->batcher;
    auto next = std::make_shared<RegistrySnapshot>(*old);
    std::erase_if(next->models, [&](const LoadedModel& x) { return x.name == name; });
    publish(std::move(next));
  }
  if (batcher) batcher->stop();
  spdlog::info("model '{}' unloaded", name);
  return Ok{};
}

}  // namespace mls::server
