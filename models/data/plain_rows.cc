#include "models/data/plain_rows.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "models/data/float_parse.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mls::detail {
namespace {

// Steps past the line end at p (LF, CRLF or CR); false when p holds anything else.
bool skip_line_end(const char*& p, const char* end) {
  if (*p == '\r') {
    ++p;
    if (p != end && *p == '\n') ++p;
    return true;
  }
  if (*p != '\n') return false;  // more cells than columns, or not a number
  ++p;
  return true;
}

void end_row(CsvTable& table, bool record_row_lines) {
  ++table.matrix.rows;
  if (record_row_lines) table.row_lines.push_back(table.matrix.rows);
}

// The rows of text, each `cols` cells read by read_cell(p, v) -> the cell's end (where a comma or a
// line end must follow), or null when the cell is not a plain number. Inlined into each scan.
template <class ReadCell>
[[gnu::always_inline]] inline bool read_rows(std::string_view text, std::size_t cols,
                                             std::size_t max_rows, bool record_row_lines,
                                             CsvTable& table, ReadCell& read_cell) {
  const char* p = text.data();
  const char* const end = p + text.size();
  Matrix& m = table.matrix;
  while (p < end) {
    if (max_rows != 0 && m.rows >= max_rows) return false;
    for (std::size_t c = 0; c < cols; ++c) {
      float v;
      p = read_cell(p, v);
      if (p == nullptr) return false;
      m.values.push_back(v);
      if (c + 1 < cols) {
        if (p == end || *p != ',') return false;
        ++p;
      }
    }
    end_row(table, record_row_lines);
    if (p != end && !skip_line_end(p, end)) return false;
  }
  return true;
}

// Each number's parse finds its own delimiter: no line scan, no per-row bookkeeping.
struct ScalarCells {
  const char* end;
  const char* operator()(const char* p, float& v) const {
    if (p == end || !starts_bare_number(*p)) return nullptr;
    const auto [ptr, ec] = parse_float(p, end, v);
    return ec == std::errc() && std::isfinite(v) ? ptr : nullptr;
  }
};

bool scalar_rows(std::string_view text, std::size_t cols, std::size_t max_rows,
                 bool record_row_lines, CsvTable& table) {
  ScalarCells cells{text.data() + text.size()};
  return read_rows(text, cols, max_rows, record_row_lines, table, cells);
}

#if defined(__x86_64__)

#define MLS_AVX2 __attribute__((target("avx2,popcnt"))) inline

// Bit j: p[j] is a comma, LF or CR, for j in [0, 32).
MLS_AVX2 std::uint32_t separators32(const char* p) {
  const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i comma = _mm256_cmpeq_epi8(bytes, _mm256_set1_epi8(','));
  const __m256i lf = _mm256_cmpeq_epi8(bytes, _mm256_set1_epi8('\n'));
  const __m256i cr = _mm256_cmpeq_epi8(bytes, _mm256_set1_epi8('\r'));
  return static_cast<std::uint32_t>(
      _mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(comma, lf), cr)));
}

// Where the cells end, found 64 bytes at a time: finding a cell's end is a shift and a count of
// trailing zeros, not a loop whose exit the branch predictor misses once per number. The text's
// end counts as a separator.
struct Separators {
  const char* block;  // the 64 bytes that `bits` describes
  const char* end;
  std::uint64_t bits = 0;
};

MLS_AVX2 void load_block(Separators& s) {
  const auto left = static_cast<std::size_t>(s.end - s.block);
  if (left >= 64) {
    s.bits = separators32(s.block) | (std::uint64_t{separators32(s.block + 32)} << 32);
    return;
  }
  alignas(32) char tail[64] = {};  // the text's last bytes; never read past its end
  std::memcpy(tail, s.block, left);
  s.bits = (separators32(tail) | (std::uint64_t{separators32(tail + 32)} << 32)) |
           (std::uint64_t{1} << left);
}

// The first separator at or after p, p in [s.block, s.end]; calls come in ascending order. Once
// the blocks have moved past p, every separator of the block is ahead of it.
MLS_AVX2 const char* next_separator(Separators& s, const char* p) {
  for (;;) {
    const std::ptrdiff_t offset = p - s.block;
    if (offset < 64) {
      const std::uint64_t ahead =
          s.bits & (~std::uint64_t{0} << std::max<std::ptrdiff_t>(offset, 0));
      if (ahead != 0) return s.block + __builtin_ctzll(ahead);
    }
    s.block += 64;
    load_block(s);
  }
}

// For a number of `length` characters with its dot at `dot` (16: none), the pshufb control that
// lines its digits up at the right end of a 16-byte register, dot dropped, zeros (0x80) on the
// left.
struct DigitPlacement {
  std::uint8_t control[16][17][16];
};

constexpr DigitPlacement make_digit_placement() {
  DigitPlacement d{};
  for (unsigned length = 0; length < 16; ++length) {
    for (unsigned dot = 0; dot < 17; ++dot) {
      for (unsigned j = 0; j < 16; ++j)
        d.control[length][dot][j] = 0x80;
      unsigned to = 16;
      for (unsigned from = length; from-- > 0;) {
        if (from != dot) d.control[length][dot][--to] = static_cast<std::uint8_t>(from);
      }
    }
  }
  return d;
}

alignas(64) constexpr DigitPlacement kDigitPlacement = make_digit_placement();

// 10^-k, each the double nearest it.
constexpr double kTenths[16] = {1e0,  1e-1, 1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15};

// The cell [p, sep) when it is an optional '-', then digits with at most one dot, 1 to 15
// characters after the sign, and not within 4 ulps of a float midpoint: the float parse_float
// gives. The digits make an integer below 2^53 (exact as a double), multiplied by 10^-k as a
// double: two roundings, each within half an ulp, put the product within 2 ulps of the decimal,
// whose nearest float it then rounds to when clear of the midpoints. A division by the exact 10^k
// (Clinger's fast path, as fast_float computes it) is correctly rounded but its latency measured
// 14 % of the parse (Zen 3). Anything else returns false. Reads 17 bytes from p.
MLS_AVX2 bool vector_cell(const char* p, const char* sep, float& v) {
  const bool negative = *p == '-';
  const char* const q = p + negative;
  const auto length = static_cast<std::size_t>(sep - q);
  if (length - 1 >= 15) return false;  // empty, or too long for 15 digits
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i digits = _mm_sub_epi8(bytes, _mm_set1_epi8('0'));
  const __m128i is_digit = _mm_cmpeq_epi8(_mm_min_epu8(digits, _mm_set1_epi8(9)), digits);
  const __m128i is_dot = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('.'));
  const unsigned in = (1u << length) - 1;
  const unsigned digit_bits = static_cast<unsigned>(_mm_movemask_epi8(is_digit)) & in;
  const unsigned dot_bits = static_cast<unsigned>(_mm_movemask_epi8(is_dot)) & in;
  if ((digit_bits | dot_bits) != in || digit_bits == 0 || (dot_bits & (dot_bits - 1)) != 0)
    return false;
  const unsigned dot = dot_bits != 0 ? static_cast<unsigned>(__builtin_ctz(dot_bits)) : 16u;
  const std::size_t fraction = dot_bits != 0 ? length - 1 - dot : 0;
  const __m128i placed = _mm_shuffle_epi8(
      digits,
      _mm_load_si128(reinterpret_cast<const __m128i*>(kDigitPlacement.control[length][dot])));
  // Pairs, then fours, then eights of digits, as integers: two of eight digits each.
  const __m128i pairs = _mm_maddubs_epi16(placed, _mm_set1_epi16(0x010A));
  const __m128i fours = _mm_madd_epi16(pairs, _mm_set1_epi32(0x00010064));
  const __m128i eights = _mm_madd_epi16(_mm_packus_epi32(fours, fours), _mm_set1_epi32(0x00012710));
  const std::uint64_t high = static_cast<std::uint32_t>(_mm_cvtsi128_si32(eights));
  const std::uint64_t low = static_cast<std::uint32_t>(_mm_extract_epi32(eights, 1));
  const double wide = static_cast<double>(high * 100'000'000u + low) * kTenths[fraction];
  if (!rounds_like_the_decimal(wide, /*slack=*/4)) return false;
  v = static_cast<float>(negative ? -wide : wide);
  return true;
}

// Any other cell [p, sep), through parse_float: it must be all one number.
bool general_cell(const char* p, const char* sep, float& v) {
  if (p == sep || !starts_bare_number(*p)) return false;
  const auto [ptr, ec] = parse_float(p, sep, v);
  return ec == std::errc() && ptr == sep && std::isfinite(v);
}

// Cells found by their separators, short numbers converted in a vector register.
struct VectorCells {
  Separators separators;
  const char* vector_end;  // cells starting before this have the 17 bytes vector_cell reads
  MLS_AVX2 const char* operator()(const char* p, float& v) {
    const char* const sep = next_separator(separators, p);
    if (!(p < vector_end && vector_cell(p, sep, v)) && !general_cell(p, sep, v)) return nullptr;
    return sep;
  }
};

MLS_AVX2 bool avx2_rows(std::string_view text, std::size_t cols, std::size_t max_rows,
                        bool record_row_lines, CsvTable& table) {
  const char* const end = text.data() + text.size();
  VectorCells cells{{text.data(), end}, text.size() >= 17 ? end - 17 : text.data()};
  load_block(cells.separators);
  return read_rows(text, cols, max_rows, record_row_lines, table, cells);
}

#endif

}  // namespace

PlainScan plain_scan() {
#if defined(__x86_64__)
  static const PlainScan scan = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt")
                                    ? PlainScan::kAvx2
                                    : PlainScan::kScalar;
  return scan;
#else
  return PlainScan::kScalar;
#endif
}

bool parse_plain_rows(std::string_view text, std::size_t cols, std::size_t max_rows,
                      bool record_row_lines, CsvTable& table, PlainScan scan) {
  if (cols == 0) return false;
  // Every cell takes at least two bytes (a digit and its delimiter): an upper bound on the rows.
  table.matrix.cols = cols;
  table.matrix.values.reserve((text.size() / (2 * cols) + 1) * cols);
  bool ok = false;
#if defined(__x86_64__)
  if (scan == PlainScan::kAvx2)
    ok = avx2_rows(text, cols, max_rows, record_row_lines, table);
  else
#endif
    ok = scalar_rows(text, cols, max_rows, record_row_lines, table);
  return ok && table.matrix.rows > 0;
}

}  // namespace mls::detail
