#pragma once
// Content-Type and Accept: which payload forms a request carries and which answer it wants.

#include <string>
#include <string_view>

#include "models/core/status.h"

namespace mls::server {

enum class InputFormat { kCsv, kJson, kJsonLines };
enum class OutputFormat { kJson, kJsonLines, kCsv };

// The media type without parameters, lower-cased: "Text/CSV; charset=utf-8" -> "text/csv".
std::string media_essence(std::string_view header);

// The tabular format of a body. An absent Content-Type is sniffed from the first non-blank byte
// ('[' or '{' is JSON, anything else CSV). Errors: kUnsupported naming the type and the supported
// ones.
Result<InputFormat> tabular_input_format(std::string_view content_type, std::string_view body);

// Picks the answer form from an Accept header by q-value (absent or */* means JSON).
// Errors: kNotAcceptable listing what we can produce.
Result<OutputFormat> negotiate_output(std::string_view accept);

std::string_view content_type_of(OutputFormat format);

}  // namespace mls::server
