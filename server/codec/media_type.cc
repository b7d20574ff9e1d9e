#include "server/codec/media_type.h"
#include "models/core/text.h"
#include "server/codec/error_text.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace mls::server {
namespace {

constexpr std::string_view kSupportedInputs = "text/csv, application/json, application/jsonlines";
constexpr std::string_view kSupportedOutputs = "application/json, application/jsonlines, text/csv";

bool is_jsonlines(std::string_view type) {
  return type == "application/jsonlines" || type == "application/x-jsonlines" ||
         type == "application/jsonl" || type == "application/x-ndjson" ||
         type == "application/json-lines";
}

std::optional<OutputFormat> output_for(std::string_view type) {
  if (type == "application/json" || type == "*/*" || type == "application/*")
    return OutputFormat::kJson;
  if (is_jsonlines(type)) return OutputFormat::kJsonLines;
  if (type == "text/csv" || type == "text/*") return OutputFormat::kCsv;
  return std::nullopt;
}

// q=0.5 -> 0.5; a missing or malformed q counts as 1 (RFC 9110 says malformed is an error, but
// refusing a request over it helps nobody).
double quality(std::string_view params) {
  while (!params.empty()) {
    const std::size_t semi = params.find(';');
    std::string_view p = trim_blanks(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (p.size() > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      double q = 1;
      auto [ptr, ec] = std::from_chars(p.data() + 2, p.data() + p.size(), q);
      if (ec == std::errc() && ptr == p.data() + p.size()) return std::clamp(q, 0.0, 1.0);
    }
  }
  return 1;
}

}  // namespace

std::string media_essence(std::string_view header) {
  std::string_view essence = trim_blanks(header.substr(0, header.find(';')));
  std::string out(essence);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

Result<InputFormat> tabular_input_format(std::string_view content_type, std::string_view body) {
  const std::string type = media_essence(content_type);
  if (type.empty()) {
    const std::size_t first = body.find_first_not_of(" \t\r\n");
    const bool json = first != std::string_view::npos && (body[first] == '[' || body[first] == '{');
    return json ? InputFormat::kJson : InputFormat::kCsv;
  }
  if (type == "text/csv" || type == "application/csv") return InputFormat::kCsv;
  if (type == "application/json") return InputFormat::kJson;
  if (is_jsonlines(type)) return InputFormat::kJsonLines;
  return make_error(ErrorCode::kUnsupported,
                    "content type '" + quote_input(type) +
                        "' is not supported for tabular models; use one of " +
                        std::string(kSupportedInputs));
}

Result<OutputFormat> negotiate_output(std::string_view accept) {
  if (trim_blanks(accept).empty()) return OutputFormat::kJson;
  std::optional<OutputFormat> best;
  double best_q = 0;
  while (!accept.empty()) {
    const std::size_t comma = accept.find(',');
    const std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    const std::size_t semi = item.find(';');
    const double q = semi == std::string_view::npos ? 1.0 : quality(item.substr(semi + 1));
    const auto format = output_for(media_essence(item));
    if (format && q > best_q) {
      best = format;
      best_q = q;
    }
  }
  if (best) return *best;
  return make_error(ErrorCode::kNotAcceptable, "cannot produce any type in Accept; available: " +
                                                   std::string(kSupportedOutputs));
}

std::string_view content_type_of(OutputFormat format) {
  switch (format) {
    case OutputFormat::kJson:
      return "application/json";
    case OutputFormat::kJsonLines:
      return "application/jsonlines";
    case OutputFormat::kCsv:
      return "text/csv";
  }
  return "application/json";
}

}  // namespace mls::server
