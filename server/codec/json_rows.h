#pragma once
// JSON and JSON Lines rows, parsed with a SAX handler straight into floats (no DOM).

#include <string_view>

#include "server/codec/tabular_decoder.h"

namespace mls::server {

// Accepts {"instances": X}, {"features": X}, X, where X is one row [n, ...] or a list of rows.
Status append_json_rows(std::string_view text, std::size_t width, const DecodeOptions& options,
                        std::size_t first_row_number, Matrix& out);

}  // namespace mls::server
