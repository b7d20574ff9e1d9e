#include "server/registry/model_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>

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

void load_one(const fs::path& dir, std::string name, const BatchOptions& batching,
              RegistrySnapshot& snap) {
  const auto start = std::chrono::steady_clock::now();
  auto artifact = load_model(dir);
  if (!artifact) {
    snap.failures.push_back({name, artifact.error().message});
    return;
  }
  if (name.empty()) name = artifact->name.empty() ? dir.filename().string() : artifact->name;
  if (std::string why = warm_up(*artifact->model); !why.empty()) {
    snap.failures.push_back({name, why});
    return;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto encoder = std::make_shared<const PredictionEncoder>(artifact->model->info());
  std::shared_ptr<DynamicBatcher> batcher;
  if (artifact->model->info().input_kind == InputKind::kImage)
    batcher = std::make_shared<DynamicBatcher>(artifact->model, name, batching);
  snap.models.push_back(
      {name, dir.string(), artifact->model, std::move(encoder), std::move(batcher), seconds});
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

void ModelRegistry::stop() {
  for (const LoadedModel& m : snapshot()->models) {
    if (m.batcher) m.batcher->stop();
  }
}

void ModelRegistry::load_all(const fs::path& dir, const BatchOptions& batching) {
  auto snap = std::make_shared<RegistrySnapshot>();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
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
    for (const fs::path& sub : subdirs) {
      if (is_model_dir(sub))
        load_one(sub, sub.filename().string(), batching, *snap);
      else
        snap->failures.push_back({sub.filename().string(), "no manifest.json in " + sub.string()});
    }
    if (ec) snap->reason = "cannot read model directory " + dir.string() + ": " + ec.message();
  }
  std::sort(snap->models.begin(), snap->models.end(),
            [](auto& a, auto& b) { return a.name < b.name; });
  if (snap->models.empty()) {
    snap->state = RegistrySnapshot::State::kUnavailable;
    if (snap->reason.empty()) {
      snap->reason = snap->failures.empty() ? "no model found in " + dir.string()
                                            : "no model could be loaded from " + dir.string();
    }
  } else {
    snap->state = RegistrySnapshot::State::kReady;
  }
  for (const LoadedModel& m : snap->models) {
    const ModelInfo& info = m.model->info();
    if (info.input_kind == InputKind::kImage) {
      spdlog::info(
          "model '{}' loaded from {} ({}, {}x{} gray images, {} classes, batches of up to {} on {} "
          "compute thread(s)) in {:.1f} ms",
          m.name, m.dir, info.model_type, info.image.size, info.image.size, m.model->num_classes(),
          m.batcher->options().max_batch, m.batcher->options().threads, m.load_seconds * 1e3);
    } else {
      spdlog::info("model '{}' loaded from {} ({}, {} features, {} classes) in {:.1f} ms", m.name,
                   m.dir, info.model_type, m.model->num_features(), m.model->num_classes(),
                   m.load_seconds * 1e3);
    }
  }
  for (const FailedModel& f : snap->failures)
    spdlog::error("model '{}' failed to load: {}", f.name, f.reason);
  if (snap->models.empty()) spdlog::error("not ready: {}", snap->reason);
  snapshot_.store(std::move(snap));
}

}  // namespace mls::server
