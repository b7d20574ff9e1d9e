// CSV rows: the text/csv request decoder (server/codec/tabular_decoder) and the training reader's
// options of the same parser (models/data/csv).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "models/core/model.h"
#include "models/data/csv.h"
#include "models/data/plain_rows.h"
#include "server/codec/tabular_decoder.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace mls;

void check_matrix(const Matrix& m) {
  FUZZ_CHECK(m.values.size() == m.rows * m.cols);
  for (float v : m.values)
    FUZZ_CHECK(std::isfinite(v));
}

// Two parses of texts that differ only in trailing blank lines.
void same_result(const Result<CsvTable>& a, const Result<CsvTable>& b) {
  FUZZ_CHECK(a.ok() == b.ok());
  if (!a.ok()) {
    FUZZ_CHECK(a.error().code == b.error().code);
    FUZZ_CHECK(a.error().message == b.error().message);
    return;
  }
  FUZZ_CHECK(a->matrix.rows == b->matrix.rows && a->matrix.cols == b->matrix.cols);
  FUZZ_CHECK(a->matrix.values.size() == b->matrix.values.size());
  FUZZ_CHECK(std::memcmp(a->matrix.values.data(), b->matrix.values.data(),
                         a->matrix.values.size() * sizeof(float)) == 0);
  FUZZ_CHECK(a->header == b->header && a->row_lines == b->row_lines);
  FUZZ_CHECK(a->row_errors.size() == b->row_errors.size());
  for (std::size_t i = 0; i < a->row_errors.size(); ++i) {
    FUZZ_CHECK(a->row_errors[i].row_index == b->row_errors[i].row_index);
    FUZZ_CHECK(a->row_errors[i].message == b->row_errors[i].message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = fuzz::as_text(data, size);
  // The width the model expects: the first line's cell count, so most inputs get past it.
  const std::string_view first_line = body.substr(0, body.find_first_of("\r\n"));
  const std::size_t width =
      std::min<std::size_t>(64, 1 + std::count(first_line.begin(), first_line.end(), ','));

  ModelInfo model;
  model.num_features = width;
  for (std::size_t i = 0; i < width; ++i)
    model.feature_names.push_back("f" + std::to_string(i));
  for (bool keep_going : {false, true}) {
    server::DecodeOptions options;
    options.keep_going = keep_going;
    auto rows = server::decode_rows(server::InputFormat::kCsv, body, model, options);
    if (!rows) {
      FUZZ_CHECK(!rows.error().message.empty());
      continue;
    }
    FUZZ_CHECK(rows->x.cols == width);
    FUZZ_CHECK(rows->x.rows > 0);
    check_matrix(rows->x);
    FUZZ_CHECK(keep_going || rows->row_errors.empty());
    for (std::size_t i = 0; i < rows->row_errors.size(); ++i) {
      FUZZ_CHECK(rows->row_errors[i].row < rows->x.rows);
      FUZZ_CHECK(i == 0 || rows->row_errors[i - 1].row < rows->row_errors[i].row);
    }
  }

  // Trailing blank lines change nothing, and they send any text down the line-by-line path: the
  // one-pass path (clean bodies) must give the same table, bit for bit, or the same error.
  const std::string padded = std::string(body) + "\n\n";
  for (bool keep_going : {false, true}) {
    CsvOptions serving;
    serving.expected_cols = width;
    serving.header_names = &model.feature_names;
    serving.keep_going = keep_going;
    serving.max_rows = 50;
    same_result(parse_csv(body, serving), parse_csv(padded, serving));
  }

  // The one-pass parse's two scans, byte by byte and 64 bytes at a time: the same bodies accepted,
  // the same bits.
  if (detail::plain_scan() == detail::PlainScan::kAvx2) {
    CsvTable scalar;
    CsvTable vector;
    const bool scalar_ok =
        detail::parse_plain_rows(body, width, 0, true, scalar, detail::PlainScan::kScalar);
    const bool vector_ok =
        detail::parse_plain_rows(body, width, 0, true, vector, detail::PlainScan::kAvx2);
    FUZZ_CHECK(scalar_ok == vector_ok);
    if (scalar_ok) {
      FUZZ_CHECK(scalar.matrix.rows == vector.matrix.rows);
      FUZZ_CHECK(scalar.matrix.values.size() == vector.matrix.values.size());
      FUZZ_CHECK(std::memcmp(scalar.matrix.values.data(), vector.matrix.values.data(),
                             scalar.matrix.values.size() * sizeof(float)) == 0);
      FUZZ_CHECK(scalar.row_lines == vector.row_lines);
    }
  }

  // The training reader's options: width from the data, header detection, blank lines skipped.
  CsvOptions training;
  training.detect_header = true;
  training.skip_blank_lines = true;
  training.record_row_lines = true;
  auto table = parse_csv(body, training);
  if (table) {
    check_matrix(table->matrix);
    FUZZ_CHECK(table->row_lines.size() == table->matrix.rows);
    FUZZ_CHECK(std::is_sorted(table->row_lines.begin(), table->row_lines.end()));
  }
  return 0;
}
