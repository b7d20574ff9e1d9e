#pragma once
// Class probabilities to response bodies: JSON, JSON Lines or CSV, one answer per input row.

#include <span>
#include <string>
#include <vector>

#include "models/core/model.h"
#include "server/codec/media_type.h"
#include "server/codec/tabular_decoder.h"

namespace mls::server {

// proba: [rows, num_classes]. Rows named in row_errors (ascending) get a placeholder instead:
// {"error": "..."} in JSON forms, a quoted "error: ..." field in CSV.
std::string encode_predictions(OutputFormat format, const ModelInfo& model,
                               std::span<const float> proba, std::size_t rows,
                               const std::vector<RowError>& row_errors);

}  // namespace mls::server
