#include "models/data/csv.h"
#include "models/core/text.h"
#include "models/data/float_parse.h"
#include "models/data/plain_rows.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

namespace mls {
namespace {

constexpr std::size_t kMaxCellEcho = 40;  // keep error messages short: SageMaker shows the body

std::string_view unquote(std::string_view s) {
  s = trim_blanks(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
    s = trim_blanks(s.substr(1, s.size() - 2));
  return s;
}

std::string echo(std::string_view cell) {
  if (cell.size() <= kMaxCellEcho) return "'" + std::string(cell) + "'";
  return "'" + std::string(cell.substr(0, kMaxCellEcho)) + "...'";
}

// Splits text into lines ending in LF, CRLF or CR, calling fn(line) for each.
template <class Fn>
bool for_each_line(std::string_view text, Fn&& fn) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    // A plain scan: string_view::find_first_of calls memchr on "\r\n" once per character.
    std::size_t end = pos;
    while (end < text.size() && text[end] != '\n' && text[end] != '\r')
      ++end;
    if (end == text.size()) return fn(text.substr(pos));
    if (!fn(text.substr(pos, end - pos))) return false;
    pos = end + 1;
    if (text[end] == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
  }
  return true;
}

bool is_blank(std::string_view line) {
  return trim_blanks(line).empty();
}

template <class Fn>
void for_each_cell(std::string_view line, Fn&& fn) {
  std::size_t pos = 0;
  while (true) {
    std::size_t comma = line.find(',', pos);
    if (comma == std::string_view::npos) {
      fn(line.substr(pos));
      return;
    }
    fn(line.substr(pos, comma - pos));
    pos = comma + 1;
  }
}

std::size_t count_cells(std::string_view line) {
  std::size_t n = 1;
  for (char c : line)
    n += c == ',';
  return n;
}

bool line_is_numeric(std::string_view line) {
  bool numeric = true;
  std::string why;
  for_each_cell(line, [&](std::string_view cell) {
    float v;
    numeric = numeric && parse_finite_float(cell, v, why);
  });
  return numeric;
}

std::vector<std::string> split_names(std::string_view line) {
  std::vector<std::string> names;
  for_each_cell(line, [&](std::string_view cell) { names.emplace_back(unquote(cell)); });
  return names;
}

// Whether a line is exactly these names (each cell trimmed and unquoted), without copying cells:
// serving asks it of every request's first line.
bool line_equals_names(std::string_view line, const std::vector<std::string>& names) {
  std::size_t i = 0;
  bool equal = true;
  for_each_cell(line, [&](std::string_view cell) {
    equal = equal && i < names.size() && unquote(cell) == names[i];
    ++i;
  });
  return equal && i == names.size();
}

std::string row_col(std::size_t row, std::size_t col) {
  return "row " + std::to_string(row) + ", column " + std::to_string(col) + ": ";
}

// The common body in one pass (plain_rows.h); anything else gives nullopt, and the caller's general
// path starts over: the same table or the same error as if this did not exist.
std::optional<CsvTable> parse_plain(std::string_view text, const CsvOptions& options) {
  std::size_t cols = options.expected_cols;
  if (cols == 0 || (options.header_names != nullptr && !options.header_names->empty())) {
    const auto first_end =
        std::find_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; });
    const std::string_view first(text.data(), static_cast<std::size_t>(first_end - text.begin()));
    if (options.header_names != nullptr && !options.header_names->empty() &&
        line_equals_names(first, *options.header_names)) {
      return std::nullopt;  // a header: the general path skips it
    }
    if (cols == 0) cols = count_cells(first);
  }
  CsvTable table;
  if (!detail::parse_plain_rows(text, cols, options.max_rows, options.record_row_lines, table))
    return std::nullopt;
  return table;
}

}  // namespace

bool parse_finite_float(std::string_view cell, float& out, std::string& why) {
  std::string_view s = unquote(cell);
  if (s.empty()) {
    why = "empty value";
    return false;
  }
  std::string_view digits = s.front() == '+' ? s.substr(1) : s;
  if (digits.size() != s.size() && !digits.empty() &&
      (digits.front() == '-' || digits.front() == '+')) {
    why = echo(s) + " is not a number";
    return false;
  }
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (ec == std::errc::result_out_of_range && ptr == digits.data() + digits.size()) {
    // Too small for a float rounds toward zero, as numpy's float32 cast does; too large is an
    // error.
    const double wide = std::strtod(std::string(digits).c_str(), nullptr);
    if (std::isfinite(wide) && std::abs(wide) < 1.0) {
      out = static_cast<float>(wide);
      return true;
    }
    why = echo(s) + " is out of the float range";
    return false;
  }
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    why = echo(s) + " is not a number";
    return false;
  }
  if (!std::isfinite(out)) {
    why = echo(s) + " is not a finite number";
    return false;
  }
  return true;
}

Result<CsvTable> parse_csv(std::string_view text, const CsvOptions& options) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (auto plain = parse_plain(text, options)) return std::move(*plain);
  CsvTable table;
  Matrix& m = table.matrix;
  m.cols = options.expected_cols;
  std::size_t line_no = 0;
  std::size_t pending_blank = 0;  // blank lines are records only if a non-blank line follows
  std::optional<Error> error;
  std::string why;

  auto add_row = [&](std::string_view line, std::size_t row_line) -> bool {
    if (m.cols == 0) m.cols = count_cells(line);
    if (options.max_rows != 0 && m.rows >= options.max_rows) {
      error = make_error(ErrorCode::kResourceExhausted,
                         "more than " + std::to_string(options.max_rows) + " rows in one request");
      return false;
    }
    std::size_t base = m.values.size();
    m.values.resize(base + m.cols, 0.0f);
    std::size_t col = 0;
    std::string row_error;
    if (is_blank(line)) row_error = "row " + std::to_string(row_line) + " is empty";
    const char* const line_end = line.data() + line.size();
    std::size_t pos = 0;
    while (true) {
      ++col;
      const bool wanted = row_error.empty() && col <= m.cols;
      // The common cell, a bare number ending at the comma or the line's end, parses in place: no
      // search for the comma, no trimming. Anything else (blanks, quotes, '+', out of range, not
      // finite, not a number) takes the general path, which gives the same value or the error.
      if (wanted && pos < line.size() && detail::starts_bare_number(line[pos])) {
        float v;
        const auto [ptr, ec] = detail::parse_float(line.data() + pos, line_end, v);
        if (ec == std::errc() && (ptr == line_end || *ptr == ',') && std::isfinite(v)) {
          m.values[base + col - 1] = v;
          if (ptr == line_end) break;
          pos = static_cast<std::size_t>(ptr - line.data()) + 1;
          continue;
        }
      }
      const std::size_t comma = line.find(',', pos);
      const std::string_view cell =
          line.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      if (wanted && !parse_finite_float(cell, m.values[base + col - 1], why))
        row_error = row_col(row_line, col) + why;
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    if (row_error.empty() && col != m.cols) {  // col counts every cell, even past m.cols
      row_error = "row " + std::to_string(row_line) + ": expected " + std::to_string(m.cols) +
                  " columns, got " + std::to_string(col);
    }
    ++m.rows;
    if (options.record_row_lines) table.row_lines.push_back(row_line);
    if (row_error.empty()) return true;
    if (!options.keep_going) {
      error = make_error(ErrorCode::kInvalidArgument, std::move(row_error));
      return false;
    }
    std::fill(m.values.begin() + base, m.values.end(), 0.0f);
    table.row_errors.push_back({m.rows - 1, std::move(row_error)});
    return true;
  };

  for_each_line(text, [&](std::string_view line) -> bool {
    ++line_no;
    if (is_blank(line)) {
      if (!options.skip_blank_lines) ++pending_blank;
      return true;
    }
    if (m.cols == 0 && pending_blank > 0)
      m.cols = count_cells(line);  // blank lines say nothing of width
    for (std::size_t i = pending_blank; i > 0; --i) {
      if (!add_row(std::string_view{}, line_no - i)) return false;
    }
    pending_blank = 0;
    if (m.rows == 0 && table.header.empty()) {
      bool matches_names = options.header_names != nullptr && !options.header_names->empty() &&
                           line_equals_names(line, *options.header_names);
      if (matches_names || (options.detect_header && !line_is_numeric(line))) {
        table.header = split_names(line);
        return true;
      }
    }
    return add_row(line, line_no);
  });
  if (error) return *error;
  if (m.rows == 0) return make_error(ErrorCode::kInvalidArgument, "no data rows");
  return table;
}

}  // namespace mls
