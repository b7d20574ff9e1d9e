#pragma once
// Numeric CSV straight into a row-major float buffer: no per-value strings, no copies of the text.
// Shared by `train` (CSV files) and `serve` (text/csv request bodies), so both read the same way.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/matrix.h"
#include "models/core/status.h"

namespace mls {

struct CsvOptions {
  std::size_t expected_cols = 0;  // 0: the first data row decides the width
  // A first line equal to these names (after trimming and unquoting) is a header and is skipped.
  const std::vector<std::string>* header_names = nullptr;
  bool detect_header = false;     // a first line with a non-numeric cell is a header (training)
  bool skip_blank_lines = false;  // training files; serving treats an inner blank line as a record
  bool keep_going = false;   // record bad rows in row_errors (filled with 0) instead of failing
  std::size_t max_rows = 0;  // 0: unlimited
  bool record_row_lines = false;  // fill CsvTable::row_lines
};

struct CsvRowError {
  std::size_t row_index;  // index into the matrix rows
  std::string message;
};

struct CsvTable {
  Matrix matrix;
  std::vector<std::string> header;      // the skipped header's cells, if there was one
  std::vector<CsvRowError> row_errors;  // only with keep_going
  std::vector<std::size_t> row_lines;   // 1-based line of each row, with record_row_lines
};

// Rows end in LF, CRLF or a bare CR; a final line end is optional; a UTF-8 BOM is ignored.
// Cells may be padded with spaces and wrapped in double quotes; each must be a finite float.
// Errors (kInvalidArgument) name the 1-based row and column: "row 3, column 2: 'abc' is not a
// number". Rows are counted as lines of the text, header included.
Result<CsvTable> parse_csv(std::string_view text, const CsvOptions& options);

// Parses one cell as a finite float; on failure returns false and sets `why` ("'abc' is not a
// number").
bool parse_finite_float(std::string_view cell, float& out, std::string& why);

}  // namespace mls
