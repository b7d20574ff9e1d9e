#pragma once
// Request bodies to a row-major float matrix, in one pass, with errors that name row and column.

#include <string>
#include <string_view>
#include <vector>

#include "models/core/matrix.h"
#include "models/core/model.h"
#include "models/core/status.h"
#include "server/codec/media_type.h"

namespace mls::server {

struct DecodeOptions {
  std::size_t max_rows = 1'000'000;
  std::size_t max_json_depth = 64;
  bool keep_going = false;  // bad rows become placeholders (row_errors) instead of failing
};

struct RowError {
  std::size_t row;  // 0-based index into the decoded rows
  std::string message;
};

struct DecodedRows {
  Matrix x;                          // [rows, model.num_features]
  std::vector<RowError> row_errors;  // only with keep_going; those rows hold zeros
};

// Errors: kInvalidArgument (empty body, bad value, wrong width, bad JSON), kResourceExhausted
// (rows).
Result<DecodedRows> decode_rows(InputFormat format, std::string_view body, const ModelInfo& model,
                                const DecodeOptions& options);

}  // namespace mls::server
