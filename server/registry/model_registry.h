#pragma once
// The models `serve` knows: loaded at start-up (and, on a multi-model endpoint, loaded and unloaded
// through the /models API), shared read-only by every thread. Readers take a snapshot (a
// shared_ptr copy under a mutex held for a few nanoseconds) and keep it for the whole request;
// writers build a new snapshot and swap it in.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "models/core/model.h"
#include "models/core/status.h"
#include "server/batching/dynamic_batcher.h"
#include "server/codec/prediction_encoder.h"

namespace mls::server {

struct LoadedModel {
  std::string name;
  std::string dir;
  ModelPtr model;
  std::shared_ptr<const PredictionEncoder> encoder;
  // The model's compute threads: always for image models; for tabular models when row batching is
  // on (BatchingOptions::rows), else null.
  std::shared_ptr<DynamicBatcher> batcher;
  double load_seconds = 0;
  std::uint64_t artifact_bytes = 0;  // what the model costs against the memory budget
};

// How loaded models batch. Image models always run on a DynamicBatcher with `images`; tabular
// models get one with `rows` when it is set, which large requests (those on an inference thread)
// join so that requests arriving together share one forest pass.
struct BatchingOptions {
  BatchOptions images;
  std::optional<BatchOptions> rows;
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
  // fails is reported by name and reason without taking the others down. Models get their
  // DynamicBatcher per `batching`. With allow_empty (a multi-model endpoint, whose models arrive
  // later through load()), no model is still ready.
  void load_all(const std::filesystem::path& dir, const BatchingOptions& batching = {},
                bool allow_empty = false);

  // Loads one more model (the multi-model API). Errors: kAlreadyExists (name taken),
  // kResourceExhausted (over memory_budget_bytes; 0 means no budget), or why the artifact failed.
  Result<LoadedModel> load(const std::string& name, const std::filesystem::path& dir,
                           std::uint64_t memory_budget_bytes);
  // Removes a model; its compute threads stop (what still waits for them fails with a 503) and
  // its memory goes once the last request holding it finishes. Errors: kNotFound.
  Status unload(const std::string& name);

  std::shared_ptr<const RegistrySnapshot> snapshot() const {
    std::lock_guard lock(snapshot_mutex_);
    return snapshot_;
  }

  // Stops every model's compute threads (failing what still waits); for shutdown.
  void stop();

 private:
  // Swaps in next; the old snapshot is released outside the lock (it may own compute threads).
  void publish(std::shared_ptr<const RegistrySnapshot> next);

  // Not std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its internal lock with a
  // relaxed store, so a later store() is not ordered after the load's read of the pointer - a data
  // race ThreadSanitizer reports, and a real one on weakly ordered CPUs (Graviton).
  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const RegistrySnapshot> snapshot_;
  std::mutex write_mutex_;  // one writer at a time; readers never take it
  BatchingOptions batching_;
};

}  // namespace mls::server
