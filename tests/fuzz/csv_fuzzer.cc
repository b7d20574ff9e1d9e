// CSV rows: the text/csv request decoder (server/codec/tabular_decoder) and the training reader's
// options of the same parser (models/data/csv).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "models/core/model.h"
#include "models/data/csv.h"
#include "server/codec/tabular_decoder.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace mls;

void check_matrix(const Matrix& m) {
  FUZZ_CHECK(m.values.size() == m.rows * m.cols);
  for (float v : m.values)
    FUZZ_CHECK(std::isfinite(v));
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
