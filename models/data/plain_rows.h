#pragma once
// The CSV reader's one pass over a clean body: rows of bare numbers, the same count in each, read
// straight into the matrix. Anything else is left to the reader's general, line-by-line path.

#include <cstddef>
#include <string_view>

#include "models/data/csv.h"

namespace mls::detail {

// How the pass finds its cells: byte by byte inside each number's parse, or with AVX2, 64 bytes
// of separators per compare and each short number's digits converted in one vector register.
enum class PlainScan { kScalar, kAvx2 };

// kAvx2 where the CPU runs it (checked once), else kScalar.
PlainScan plain_scan();

// Appends the rows of text to table.matrix (and to table.row_lines, numbered from 1, when
// record_row_lines) if every row is exactly `cols` cells, each a number starting with a digit,
// '-' or '.', parsed whole by parse_float and finite; cells end at a comma, rows at LF, CRLF or
// CR (the last optional), and there is at least one row and at most max_rows (0: no limit).
// Otherwise false, with table in an unspecified state. Both scans give the same bits.
bool parse_plain_rows(std::string_view text, std::size_t cols, std::size_t max_rows,
                      bool record_row_lines, CsvTable& table, PlainScan scan = plain_scan());

}  // namespace mls::detail
