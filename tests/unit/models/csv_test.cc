#include "models/data/csv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace mls {
namespace {

using Floats = std::vector<float>;

CsvTable parse_ok(std::string_view text, const CsvOptions& options = {}) {
  auto result = parse_csv(text, options);
  if (!result.ok()) {
    ADD_FAILURE() << "unexpected error: " << result.error().message;
    return {};
  }
  return std::move(result).value();
}

// The error message; fails the test unless parsing fails with `code`.
std::string parse_error(std::string_view text, const CsvOptions& options = {},
                        ErrorCode code = ErrorCode::kInvalidArgument) {
  auto result = parse_csv(text, options);
  if (result.ok()) {
    ADD_FAILURE() << "parsed " << result->matrix.rows << " rows, expected an error";
    return {};
  }
  EXPECT_EQ(result.error().code, code) << result.error().message;
  return result.error().message;
}

TEST(CsvTest, SplitsLfLines) {
  CsvTable t = parse_ok("1,2\n3,4\n");
  EXPECT_EQ(t.matrix.rows, 2u);
  EXPECT_EQ(t.matrix.cols, 2u);
  EXPECT_EQ(t.matrix.values, (Floats{1, 2, 3, 4}));
  EXPECT_TRUE(t.header.empty());
  EXPECT_TRUE(t.row_errors.empty());
}

TEST(CsvTest, SplitsCrlfLines) {
  CsvTable t = parse_ok("1,2\r\n3,4\r\n");
  EXPECT_EQ(t.matrix.rows, 2u);
  EXPECT_EQ(t.matrix.values, (Floats{1, 2, 3, 4}));
}

TEST(CsvTest, SplitsBareCarriageReturnLines) {
  CsvTable t = parse_ok("1,2\r3,4\r5,6\r");
  EXPECT_EQ(t.matrix.rows, 3u);
  EXPECT_EQ(t.matrix.cols, 2u);
  EXPECT_EQ(t.matrix.values, (Floats{1, 2, 3, 4, 5, 6}));
}

TEST(CsvTest, SplitsMixedLineEnds) {
  CsvTable t = parse_ok("1,2\r\n3,4\r5,6\n7,8");
  EXPECT_EQ(t.matrix.rows, 4u);
  EXPECT_EQ(t.matrix.values, (Floats{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(CsvTest, FinalLineEndIsOptional) {
  for (std::string_view text : {"1.5,2\n-3,4", "1.5,2\n-3,4\n", "1.5,2\r-3,4", "1.5,2\r\n-3,4"}) {
    CsvTable t = parse_ok(text);
    EXPECT_EQ(t.matrix.rows, 2u) << text;
    EXPECT_EQ(t.matrix.values, (Floats{1.5f, 2, -3, 4})) << text;
  }
}

TEST(CsvTest, SkipsUtf8Bom) {
  CsvTable t = parse_ok(
      "\xEF\xBB\xBF"
      "7,8\n");
  EXPECT_EQ(t.matrix.rows, 1u);
  EXPECT_EQ(t.matrix.values, (Floats{7, 8}));
}

TEST(CsvTest, AcceptsQuotedAndSpacePaddedCells) {
  CsvTable t = parse_ok(" \"1.5\" ,  2\t,\" -3 \",+4,1e2\n");
  EXPECT_EQ(t.matrix.cols, 5u);
  EXPECT_EQ(t.matrix.values, (Floats{1.5f, 2, -3, 4, 100}));
}

TEST(CsvTest, SkipsHeaderEqualToNames) {
  const std::vector<std::string> names = {"a", "b"};
  CsvOptions options;
  options.header_names = &names;
  CsvTable t = parse_ok(" \"a\", b\n1,2\n", options);
  EXPECT_EQ(t.header, names);
  EXPECT_EQ(t.matrix.rows, 1u);
  EXPECT_EQ(t.matrix.values, (Floats{1, 2}));
}

TEST(CsvTest, HeaderThatDiffersFromNamesIsData) {
  const std::vector<std::string> names = {"a", "b"};
  CsvOptions options;
  options.header_names = &names;
  EXPECT_EQ(parse_error("a,c\n1,2\n", options), "row 1, column 1: 'a' is not a number");
}

TEST(CsvTest, DetectHeaderSkipsNonNumericFirstLine) {
  CsvOptions options;
  options.detect_header = true;
  CsvTable t = parse_ok("x,\"y\"\n1,2\n", options);
  EXPECT_EQ(t.header, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(t.matrix.rows, 1u);

  CsvTable numeric = parse_ok("1,2\n3,4\n", options);
  EXPECT_TRUE(numeric.header.empty());
  EXPECT_EQ(numeric.matrix.rows, 2u);

  // Rows are counted as lines, header included; only the first line can be a header.
  EXPECT_EQ(parse_error("x,y\n1,2\n3,abc\n", options), "row 3, column 2: 'abc' is not a number");
}

TEST(CsvTest, ErrorNamesRowAndColumn) {
  EXPECT_EQ(parse_error("1,2,3\n4,5,abc\n"), "row 2, column 3: 'abc' is not a number");
  EXPECT_EQ(parse_error("1,2\n3,\n"), "row 2, column 2: empty value");
  EXPECT_EQ(parse_error("1.5x\n"), "row 1, column 1: '1.5x' is not a number");
}

TEST(CsvTest, RejectsNanAndInfinity) {
  EXPECT_EQ(parse_error("1,NaN\n"), "row 1, column 2: 'NaN' is not a finite number");
  EXPECT_EQ(parse_error("inf\n"), "row 1, column 1: 'inf' is not a finite number");
  EXPECT_EQ(parse_error("2\n-inf\n"), "row 2, column 1: '-inf' is not a finite number");
}

TEST(CsvTest, RejectsValuesOutOfFloatRange) {
  EXPECT_EQ(parse_error("1e400\n"), "row 1, column 1: '1e400' is out of the float range");
  EXPECT_EQ(parse_error("0,-1e39\n"), "row 1, column 2: '-1e39' is out of the float range");
}

TEST(CsvTest, RejectsHexFloats) {
  EXPECT_EQ(parse_error("0x1p3\n"), "row 1, column 1: '0x1p3' is not a number");
}

TEST(CsvTest, ThousandsSeparatorChangesTheColumnCount) {
  EXPECT_EQ(parse_error("5\n1,000\n"), "row 2: expected 1 columns, got 2");
}

TEST(CsvTest, WrongColumnCountMessage) {
  EXPECT_EQ(parse_error("1,2,3\n4,5\n"), "row 2: expected 3 columns, got 2");
  CsvOptions options;
  options.expected_cols = 2;
  EXPECT_EQ(parse_error("1,2,3\n", options), "row 1: expected 2 columns, got 3");
}

TEST(CsvTest, EmptyBodyIsAnError) {
  EXPECT_EQ(parse_error(""), "no data rows");
  EXPECT_EQ(parse_error("\n\r\n  \n"), "no data rows");
  EXPECT_EQ(parse_error("\xEF\xBB\xBF"), "no data rows");
  CsvOptions options;
  options.detect_header = true;
  EXPECT_EQ(parse_error("a,b\n", options), "no data rows");
}

TEST(CsvTest, KeepGoingRecordsRowErrors) {
  CsvOptions options;
  options.keep_going = true;
  CsvTable t = parse_ok("1,2\nabc,4\n5,6\n7\n8,9\n", options);
  EXPECT_EQ(t.matrix.rows, 5u);
  EXPECT_EQ(t.matrix.values, (Floats{1, 2, 0, 0, 5, 6, 0, 0, 8, 9}));
  ASSERT_EQ(t.row_errors.size(), 2u);
  EXPECT_EQ(t.row_errors[0].row_index, 1u);
  EXPECT_EQ(t.row_errors[0].message, "row 2, column 1: 'abc' is not a number");
  EXPECT_EQ(t.row_errors[1].row_index, 3u);
  EXPECT_EQ(t.row_errors[1].message, "row 4: expected 2 columns, got 1");
}

TEST(CsvTest, InnerBlankLineIsAnError) {
  EXPECT_EQ(parse_error("1,2\n\n3,4\n"), "row 2 is empty");
  EXPECT_EQ(parse_error("1,2\r\n \t\r\n3,4\r\n"), "row 2 is empty");
  EXPECT_EQ(parse_error("1,2\r\r3,4\r"), "row 2 is empty");
}

TEST(CsvTest, KeepGoingRecordsInnerBlankLine) {
  CsvOptions options;
  options.keep_going = true;
  CsvTable t = parse_ok("1,2\n\n3,4\n", options);
  EXPECT_EQ(t.matrix.rows, 3u);
  EXPECT_EQ(t.matrix.values, (Floats{1, 2, 0, 0, 3, 4}));
  ASSERT_EQ(t.row_errors.size(), 1u);
  EXPECT_EQ(t.row_errors[0].row_index, 1u);
  EXPECT_EQ(t.row_errors[0].message, "row 2 is empty");
}

// Regression: a leading blank line under keep_going fixes the width at 1 column
// (count_cells("") == 1), so every real row after it is reported as "expected 1 columns, got 2".
TEST(CsvTest, KeepGoingLeadingBlankLineDoesNotDecideTheWidth) {
  CsvOptions options;
  options.keep_going = true;
  CsvTable t = parse_ok("\n1,2\n3,4\n", options);
  EXPECT_EQ(t.matrix.cols, 2u);
  EXPECT_EQ(t.matrix.rows, 3u);
  EXPECT_EQ(t.matrix.values, (Floats{0, 0, 1, 2, 3, 4}));
  ASSERT_EQ(t.row_errors.size(), 1u);
  EXPECT_EQ(t.row_errors[0].message, "row 1 is empty");
}

TEST(CsvTest, SkipBlankLinesDropsInnerBlankLines) {
  CsvOptions options;
  options.skip_blank_lines = true;
  CsvTable t = parse_ok("\n1,2\n\n  \n3,4\n", options);
  EXPECT_EQ(t.matrix.rows, 2u);
  EXPECT_EQ(t.matrix.values, (Floats{1, 2, 3, 4}));
  // Row numbers still count the skipped lines.
  EXPECT_EQ(parse_error("1,2\n\nx,4\n", options), "row 3, column 1: 'x' is not a number");
}

TEST(CsvTest, TrailingBlankLinesAreIgnored) {
  CsvTable t = parse_ok("1,2\n3,4\n\n\n  \n");
  EXPECT_EQ(t.matrix.rows, 2u);
  CsvTable crlf = parse_ok("1,2\r\n\r\n\r\n");
  EXPECT_EQ(crlf.matrix.rows, 1u);
  EXPECT_EQ(crlf.matrix.values, (Floats{1, 2}));
}

TEST(CsvTest, MaxRowsLimitsTheRowCount) {
  CsvOptions options;
  options.max_rows = 2;
  EXPECT_EQ(parse_ok("1\n2\n", options).matrix.rows, 2u);
  EXPECT_EQ(parse_error("1\n2\n3\n", options, ErrorCode::kResourceExhausted),
            "more than 2 rows in one request");
}

TEST(CsvTest, LongCellsAreShortenedInMessages) {
  const std::string cell(60, 'z');
  EXPECT_EQ(parse_error(cell + "\n"),
            "row 1, column 1: '" + std::string(40, 'z') + "...' is not a number");
}

TEST(CsvTest, ParseFiniteFloatReportsWhy) {
  float v = 0;
  std::string why;
  EXPECT_TRUE(parse_finite_float("  \" 2.5 \" ", v, why));
  EXPECT_EQ(v, 2.5f);
  EXPECT_TRUE(parse_finite_float("+0.25", v, why));
  EXPECT_EQ(v, 0.25f);
  EXPECT_FALSE(parse_finite_float("\"\"", v, why));
  EXPECT_EQ(why, "empty value");
  EXPECT_FALSE(parse_finite_float("+", v, why));
  EXPECT_EQ(why, "'+' is not a number");
  EXPECT_FALSE(parse_finite_float("1 2", v, why));
  EXPECT_EQ(why, "'1 2' is not a number");
}

// Regression: a value below the smallest float subnormal (e.g. "1e-50", as written
// by a float64 pipeline) underflows and is rejected as "out of the float range"; it should round to
// 0 like numpy.float32("1e-50"). Only overflow (1e400) is out of range.
TEST(CsvTest, TinyValuesRoundToZero) {
  CsvTable t = parse_ok("1e-50,-1e-50,1e-40\n");
  ASSERT_EQ(t.matrix.values.size(), 3u);
  EXPECT_EQ(t.matrix.values[0], 0.0f);
  EXPECT_EQ(t.matrix.values[1], 0.0f);
  EXPECT_GT(t.matrix.values[2], 0.0f);  // a subnormal, accepted today
}

// Regression: the '+' sign is stripped before from_chars, which accepts a '-', so
// "+-1" parses as -1 instead of being rejected.
TEST(CsvTest, RejectsDoubleSign) {
  float v = 0;
  std::string why;
  EXPECT_FALSE(parse_finite_float("+-1", v, why));
  EXPECT_EQ(why, "'+-1' is not a number");
}

// Bare cells parse with fast_float where its answer is the same float; the general path
// (parse_finite_float, std::from_chars) is the reference. Random decimals over the whole float
// range, subnormals and round-to-even halfway cases included, must come out bit for bit the same.
// Cells one per line, through the one-pass path and then (trailing blank lines) the line-by-line
// one: each must give exactly the float parse_finite_float gives (cells it rejects are left out,
// and at least min_kept must remain).
void expect_general_paths_floats(const std::vector<std::string>& cells, std::size_t min_kept) {
  std::string body;
  std::vector<float> expected;
  std::vector<const std::string*> kept;
  for (const std::string& cell : cells) {
    float v = 0;
    std::string why;
    if (!parse_finite_float(cell, v, why)) continue;
    expected.push_back(v);
    kept.push_back(&cell);
    body += cell + "\n";
  }
  ASSERT_GE(expected.size(), min_kept);
  for (const std::string& text : {body, body + "\n\n"}) {
    const CsvTable t = parse_ok(text);
    ASSERT_EQ(t.matrix.values.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(std::memcmp(&t.matrix.values[i], &expected[i], sizeof(float)), 0)
          << "row " << i + 1 << " (" << *kept[i] << "): " << t.matrix.values[i] << " vs "
          << expected[i];
    }
  }
}

TEST(CsvTest, BareCellsGiveTheGeneralPathsFloats) {
  std::mt19937 rng(7);
  std::vector<std::string> cells = {
      "0",        "-0",       "0.0", "1e-45", "7e-46", "1.4e-45", "1.17549435e-38", "3.4028235e38",
      "16777217", "16777219", "0.1"};
  std::uniform_int_distribution<int> digits(1, 20), digit(0, 9), exponent(-50, 38), sign(0, 1);
  while (cells.size() < 4000) {
    std::string s = sign(rng) ? "-" : "";
    const int n = digits(rng);
    for (int i = 0; i < n; ++i) {
      s += static_cast<char>('0' + digit(rng));
      if (i == 0 && n > 1) s += '.';
    }
    s += "e" + std::to_string(exponent(rng));
    cells.push_back(s);
  }
  expect_general_paths_floats(cells, 3001);  // the rest are over the float range: errors either way
}

// The one-pass path parses to double and rounds that to float: a decimal on, or within a double's
// rounding of, a midpoint between two floats is where that could go wrong (twice rounded). Exact
// midpoints (ties to even), and the same decimals cut to 9-25 significant digits (just above or
// below them), across the whole normal range, both signs: the same bits as the general path.
TEST(CsvTest, DecimalsAtFloatMidpointsRoundOnce) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-126, 127);
  std::vector<std::string> cells = {"1.00000005960464477539062500", "16777217", "3.4028235e38"};
  char buf[256];
  while (cells.size() < 3000) {
    const float f = std::ldexp(mantissa(rng), exponent(rng));
    const float g = std::nextafter(f, std::numeric_limits<float>::infinity());
    if (!std::isfinite(g)) continue;
    const double mid = (static_cast<double>(f) + static_cast<double>(g)) / 2;  // exact
    const char* sign = cells.size() % 2 ? "-" : "";
    std::snprintf(buf, sizeof buf, "%s%.120e", sign, mid);  // exact: glibc prints every digit
    cells.emplace_back(buf);
    for (int digits : {9, 17, 18, 25}) {
      std::snprintf(buf, sizeof buf, "%s%.*e", sign, digits - 1, mid);
      cells.emplace_back(buf);
    }
  }
  expect_general_paths_floats(cells, cells.size());
}

// Clean bodies take a one-pass path; trailing blank lines (which change nothing in the result)
// send the same rows through the line-by-line path. Both must give the same bits.
TEST(CsvTest, OnePassAndLineByLinePathsAgree) {
  const char* cells[] = {"140.5625", "-0.234571412", ".5", "-.25", "1e-3",
                         "7",        "3.4e38",       "-0", "0.1",  "12345678901234567890"};
  for (const char* eol : {"\n", "\r\n", "\r"}) {
    for (std::size_t expected_cols : {std::size_t{0}, std::size_t{4}}) {
      std::string body;
      for (std::size_t r = 0; r < 300; ++r) {
        for (std::size_t c = 0; c < 4; ++c)
          body += std::string(c ? "," : "") + cells[(r * 7 + c * 3) % std::size(cells)];
        body += eol;
      }
      CsvOptions options;
      options.expected_cols = expected_cols;
      options.record_row_lines = true;
      const CsvTable plain = parse_ok(body, options);
      const CsvTable lines = parse_ok(body + eol + eol, options);
      EXPECT_EQ(plain.matrix.rows, 300u);
      EXPECT_EQ(plain.matrix.cols, 4u);
      EXPECT_EQ(plain.matrix.rows, lines.matrix.rows);
      EXPECT_EQ(plain.row_lines, lines.row_lines);
      ASSERT_EQ(plain.matrix.values.size(), lines.matrix.values.size());
      EXPECT_EQ(0, std::memcmp(plain.matrix.values.data(), lines.matrix.values.data(),
                               plain.matrix.values.size() * sizeof(float)));
      // And without its final line end.
      const CsvTable unterminated =
          parse_ok(body.substr(0, body.size() - std::strlen(eol)), options);
      EXPECT_EQ(unterminated.matrix.values, plain.matrix.values);
    }
  }
}

// A clean body that goes bad deep inside still gets the line-by-line path's exact error.
TEST(CsvTest, ErrorDeepInACleanBodyNamesItsRow) {
  std::string body;
  for (int r = 0; r < 500; ++r)
    body += "1.5,2.5,3.5\n";
  EXPECT_EQ(parse_error(body + "1.5,2.5\n"), "row 501: expected 3 columns, got 2");
  EXPECT_EQ(parse_error(body + "1.5,2.5,3.5,4.5\n"), "row 501: expected 3 columns, got 4");
  EXPECT_EQ(parse_error(body + "1.5,abc,3.5\n"), "row 501, column 2: 'abc' is not a number");
  EXPECT_EQ(parse_error(body + "1.5,1e39,3.5\n"),
            "row 501, column 2: '1e39' is out of the float range");
  CsvOptions keep;
  keep.keep_going = true;
  const CsvTable t = parse_ok(body + "1.5,x,3.5\n" + body, keep);
  EXPECT_EQ(t.matrix.rows, 1001u);
  ASSERT_EQ(t.row_errors.size(), 1u);
  EXPECT_EQ(t.row_errors[0].row_index, 500u);
}

TEST(CsvTest, NumericHeaderEqualToNamesIsStillSkipped) {
  const std::vector<std::string> names{"1", "2"};
  CsvOptions options;
  options.expected_cols = 2;
  options.header_names = &names;
  const CsvTable t = parse_ok("1,2\n3,4\n", options);
  EXPECT_EQ(t.matrix.values, (Floats{3, 4}));
  EXPECT_EQ(t.header, names);
}

}  // namespace
}  // namespace mls
