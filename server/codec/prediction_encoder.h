#pragma once
// Class probabilities to response bodies: JSON, JSON Lines or CSV, one answer per input row.

#include <span>
#include <string>
#include <vector>

#include "models/core/model.h"
#include "server/codec/media_type.h"
#include "server/codec/tabular_decoder.h"

namespace mls::server {

// Encodes one model's answers. Built once per model, since the per-class text (label, escaped name)
// never changes; encode() is const and thread-safe.
class PredictionEncoder {
 public:
  explicit PredictionEncoder(const ModelInfo& model);

  // proba: [rows, num_classes]. Rows named in row_errors (ascending) get a placeholder instead:
  // {"error": "..."} in JSON forms, a quoted "error: ..." field in CSV.
  std::string encode(OutputFormat format, std::span<const float> proba, std::size_t rows,
                     const std::vector<RowError>& row_errors) const;

 private:
  std::size_t num_classes_;
  std::vector<std::string> labels_;       // 1, 0.5 ...
  std::vector<std::string> json_prefix_;  // {"label":1,"class":"pulsar","probabilities":[
};

}  // namespace mls::server
