#pragma once
// The whole seam between the server and the models: a thread-safe classifier over float rows.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/matrix.h"

namespace mls {

// What kind of input a model reads; the server uses it to route by content type.
enum class InputKind { kTabular, kImage };

// How any image becomes an image model's input (models/image/preprocess.h does it): gray, resized
// to size x size, then (v - mean) / std. Stored in the manifest so serve matches train exactly.
struct ImageInputSpec {
  std::size_t size = 28;
  float mean = 0.0f;
  float std = 1.0f;
};

// Everything about a model that is not its weights: read from and written to manifest.json.
struct ModelInfo {
  std::string model_type;  // "forest" | "cnn"
  InputKind input_kind = InputKind::kTabular;
  ImageInputSpec image;                    // image models only; num_features = image.size squared
  std::size_t num_features = 0;            // flattened input width
  std::vector<std::string> feature_names;  // may be empty
  std::vector<double> class_labels;        // the label values seen in training, ascending
  std::vector<std::string> class_names;    // one per class label
  std::string training_metrics_json = "{}";
  std::string hyperparameters_json = "{}";
};

class Model {
 public:
  virtual ~Model() = default;

  virtual const ModelInfo& info() const = 0;
  std::size_t num_features() const { return info().num_features; }
  std::size_t num_classes() const { return info().class_labels.size(); }

  // x: [n, num_features]; out: [n, num_classes] class probabilities, each row sums to 1.
  // Thread-safe and lock-free: one instance serves every thread. The caller guarantees the shapes
  // and that every value is finite (decoders check), so the hot loop does not.
  virtual void predict_proba(MatrixView x, std::span<float> out) const = 0;
};

using ModelPtr = std::shared_ptr<const Model>;

}  // namespace mls
