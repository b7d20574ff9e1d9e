// JSON and JSON Lines request bodies (server/codec/json_rows through server/codec/tabular_decoder),
// with the server's limits (max_json_depth 64, max_rows).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "models/core/model.h"
#include "server/codec/tabular_decoder.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mls;
  const std::string_view body = fuzz::as_text(data, size);
  // The width the model expects: the commas before the first ']' plus one, so most inputs that
  // hold a row get past the width check.
  const std::string_view head = body.substr(0, body.find(']'));
  const std::size_t width =
      std::min<std::size_t>(64, 1 + std::count(head.begin(), head.end(), ','));
  ModelInfo model;
  model.num_features = width;

  for (auto format : {server::InputFormat::kJson, server::InputFormat::kJsonLines}) {
    for (bool keep_going : {false, true}) {
      server::DecodeOptions options;
      options.keep_going = keep_going;
      auto rows = server::decode_rows(format, body, model, options);
      if (!rows) {
        FUZZ_CHECK(!rows.error().message.empty());
        FUZZ_CHECK(rows.error().code == ErrorCode::kInvalidArgument ||
                   rows.error().code == ErrorCode::kResourceExhausted);
        continue;
      }
      FUZZ_CHECK(rows->x.cols == width);
      FUZZ_CHECK(rows->x.rows > 0);
      FUZZ_CHECK(rows->x.values.size() == rows->x.rows * rows->x.cols);
      for (float v : rows->x.values)
        FUZZ_CHECK(std::isfinite(v));
      for (const auto& e : rows->row_errors)
        FUZZ_CHECK(e.row < rows->x.rows);
    }
  }
  return 0;
}
