#include "server/codec/tabular_decoder.h"

#include "models/data/csv.h"
#include "server/codec/json_rows.h"

namespace mls::server {
namespace {

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

Result<DecodedRows> decode_csv(std::string_view body, const ModelInfo& model,
                               const DecodeOptions& options) {
  CsvOptions csv;
  csv.expected_cols = model.num_features;
  csv.header_names = &model.feature_names;
  csv.keep_going = options.keep_going;
  csv.max_rows = options.max_rows;
  auto table = parse_csv(body, csv);
  if (!table) return table.error();
  DecodedRows out;
  out.x = std::move(table->matrix);
  for (auto& e : table->row_errors)
    out.row_errors.push_back({e.row_index, std::move(e.message)});
  return out;
}

// One row per line, so N lines in give N answers out; line ends as in CSV.
Result<DecodedRows> decode_json_lines(std::string_view body, const DecodeOptions& options,
                                      std::size_t width) {
  DecodedRows out;
  out.x.cols = width;
  std::size_t line_no = 0;
  std::size_t pending_blank = 0;
  auto add_line = [&](std::string_view line, std::size_t number) -> Status {
    const std::size_t before = out.x.rows;
    Status s = is_blank(line) ? Status(make_error(ErrorCode::kInvalidArgument,
                                                  "row " + std::to_string(number) + " is empty"))
                              : append_json_rows(line, width, options, number, out.x);
    // Every JSON Lines error names its line, also those about the line's shape as a whole.
    if (!s && s.error().message.rfind("row ", 0) != 0) {
      s = make_error(s.error().code, "row " + std::to_string(number) + ": " + s.error().message);
    }
    if (s && out.x.rows != before + 1) {
      out.x.rows = before;
      out.x.values.resize(before * width);
      s = make_error(
          ErrorCode::kInvalidArgument,
          "row " + std::to_string(number) + ": a JSON Lines line must hold exactly one row");
    }
    if (s) return s;
    if (!options.keep_going || s.error().code != ErrorCode::kInvalidArgument) return s;
    out.row_errors.push_back({out.x.rows, s.error().message});
    out.x.values.resize(out.x.values.size() + width, 0.0f);
    ++out.x.rows;
    return Ok{};
  };
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view line = body.substr(pos, end - pos);
    ++line_no;
    pos = end + 1;
    if (end < body.size() && body[end] == '\r' && pos < body.size() && body[pos] == '\n') ++pos;
    if (is_blank(line)) {
      ++pending_blank;  // a record only if a non-blank line follows
      continue;
    }
    for (std::size_t i = pending_blank; i > 0; --i) {
      if (auto s = add_line({}, line_no - i); !s) return s.error();
    }
    pending_blank = 0;
    if (auto s = add_line(line, line_no); !s) return s.error();
  }
  if (out.x.rows == 0) return make_error(ErrorCode::kInvalidArgument, "no data rows");
  return out;
}

}  // namespace

Result<DecodedRows> decode_rows(InputFormat format, std::string_view body, const ModelInfo& model,
                                const DecodeOptions& options) {
  if (is_blank(body))
    return make_error(ErrorCode::kInvalidArgument, "empty body: send at least one row");
  switch (format) {
    case InputFormat::kCsv:
      return decode_csv(body, model, options);
    case InputFormat::kJsonLines:
      return decode_json_lines(body, options, model.num_features);
    case InputFormat::kJson: {
      DecodedRows out;
      out.x.cols = model.num_features;
      if (auto s = append_json_rows(body, model.num_features, options, 1, out.x); !s)
        return s.error();
      return out;
    }
  }
  return make_error(ErrorCode::kUnsupported, "unknown input format");
}

}  // namespace mls::server
