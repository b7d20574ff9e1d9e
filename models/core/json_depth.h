#pragma once
// JSON documents parsed with their nesting capped. nlohmann's dump() and copies recurse once per
// level, so a file nested a hundred thousand deep (a manifest, hyperparameters.json) would overflow
// the stack later on: such a document is refused while it is parsed.

#include <nlohmann/json.hpp>
#include <string_view>

namespace mls {

struct CappedJson {
  nlohmann::json value;  // discarded when the text is not JSON or nests too deep
  bool too_deep = false;
};

inline CappedJson parse_json_capped(std::string_view text, int max_depth) {
  using json = nlohmann::json;
  CappedJson out;
  const json::parser_callback_t limit_depth = [&out, max_depth](int depth,
                                                                json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      out.too_deep = true;
      return false;  // drop the value: nothing deeper is kept
    }
    return !out.too_deep;
  };
  out.value = json::parse(text, limit_depth, /*allow_exceptions=*/false);
  return out;
}

}  // namespace mls
