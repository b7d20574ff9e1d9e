#pragma once
// The models `serve` knows: loaded once at start-up, shared read-only by every thread.
// Readers take a snapshot (one atomic load) and keep it for the whole request.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "models/core/model.h"
#include "server/batching/dynamic_batcher.h"
#include "server/codec/prediction_encoder.h"

namespace mls::server {

struct LoadedModel {
  std::string name;
  std::string dir;
  ModelPtr model;
  std::shared_ptr<const PredictionEncoder> encoder;
  std::shared_ptr<DynamicBatcher> batcher;  // image models: their compute threads; else null
  double load_seconds = 0;
};

struct FailedModel {
  std::string name;
  std::string reason;
};

struct RegistrySnapshot {
  enum class State { kLoading, kReady, kUnavailable };
  State state = State::kLoading;
  std::vector<LoadedModel> models;  // sorted by name
  std::vector<FailedModel> failures;
  std::string reason;  // why the state is kUnavailable

  const LoadedModel* find(std::string_view name) const;
  std::string names() const;  // "a, b"
};

class ModelRegistry {
 public:
  ModelRegistry();

  // Loads every model under dir: dir itself when it holds a manifest, else each sub-directory
  // (named after it). Each model must answer a warm-up prediction to count as loaded; one that
  // fails is reported by name and reason without taking the others down. Image models get a
  // DynamicBatcher with these options.
  void load_all(const std::filesystem::path& dir, const BatchOptions& batching = {});

  // Stops every model's compute threads (failing what still waits); for shutdown.
  void stop();

  std::shared_ptr<const RegistrySnapshot> snapshot() const { return snapshot_.load(); }

 private:
  std::atomic<std::shared_ptr<const RegistrySnapshot>> snapshot_;
};

}  // namespace mls::server
