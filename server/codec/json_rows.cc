#include "server/codec/json_rows.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/codec/error_text.h"

namespace mls::server {
namespace {

using json = nlohmann::json;

constexpr std::string_view kExpectedShape =
    R"(expected {"instances": [[...], ...]}, {"features": [...]}, a row [...] or a list of rows)";

// What the innermost open container is.
enum class Frame {
  kTopObject,  // the outer {...}; only "instances"/"features" matter
  kSkip,       // a container under another key: ignored
  kUndecided,  // an array that is either one row or a list of rows
  kRows,       // a list of rows
  kRow,        // one row of numbers
};

class RowsSax final : public json::json_sax_t {
 public:
  RowsSax(std::size_t width, const DecodeOptions& options, std::size_t first_row, Matrix& out)
      : width_(width), options_(options), first_row_(first_row), out_(out) {}

  const std::string& error() const { return error_; }
  bool saw_rows() const { return saw_rows_; }

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool number_integer(number_integer_t v) override { return number(static_cast<double>(v)); }
  bool number_unsigned(number_unsigned_t v) override { return number(static_cast<double>(v)); }
  bool number_float(number_float_t v, const string_t&) override { return number(v); }
  bool string(string_t&) override { return scalar("a string"); }
  bool binary(binary_t&) override { return scalar("binary data"); }

  bool start_object(std::size_t) override {
    if (stack_.empty()) return push(Frame::kTopObject);
    if (top() == Frame::kTopObject || top() == Frame::kSkip) return push(Frame::kSkip);
    return fail(where() + "expected a number or a row, got an object");
  }
  bool end_object() override { return pop(); }
  bool key(string_t& k) override {
    if (top() == Frame::kTopObject) target_key_ = k == "instances" || k == "features";
    return true;
  }

  bool start_array(std::size_t) override {
    if (stack_.empty()) return push(Frame::kUndecided);
    switch (top()) {
      case Frame::kTopObject:
        return push(target_key_ ? Frame::kUndecided : Frame::kSkip);
      case Frame::kSkip:
        return push(Frame::kSkip);
      case Frame::kUndecided:
        stack_.back() = Frame::kRows;
        return begin_row();
      case Frame::kRows:
        return begin_row();
      case Frame::kRow:
        return fail(where() + "expected a number, got an array");
    }
    return false;
  }
  bool end_array() override {
    if (top() == Frame::kRow && !end_row()) return false;
    if (top() == Frame::kUndecided) return fail("no rows");
    return pop();
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    if (!error_.empty()) return false;
    const std::string what = e.what();
    if (e.id == kNumberOverflow) {  // valid JSON, just not a float: answer as CSV does
      const std::size_t close = what.rfind('\'');
      const std::size_t open = close == std::string::npos ? close : what.rfind('\'', close - 1);
      const std::string token =
          open == std::string::npos
              ? std::string("the number")
              : "'" + quote_input(what.substr(open + 1, close - open - 1)) + "'";
      const bool in_row = !stack_.empty() && (top() == Frame::kRow || top() == Frame::kUndecided);
      if (in_row && top() == Frame::kUndecided) col_ = 0;
      return fail((in_row ? where() : std::string()) + token + " is out of the float range");
    }
    // nlohmann says "[json.exception.parse_error.101] parse error at line 1, column 50: syntax
    // error while parsing value - invalid literal; last read: '...'": keep what follows the
    // position, the reason and what it read, without the library's prefix.
    std::string reason = what;
    if (const std::size_t at = what.find("parse error"); at != std::string::npos) {
      const std::size_t colon = what.find(": ", at);
      reason = colon == std::string::npos ? what.substr(at) : what.substr(colon + 2);
    } else if (const std::size_t bracket = what.find("] "); bracket != std::string::npos) {
      reason = what.substr(bracket + 2);
    }
    return fail("invalid JSON at byte " + std::to_string(position) + ": " + reason);
  }

 private:
  Frame top() const { return stack_.back(); }
  bool push(Frame f) {
    if (stack_.size() >= options_.max_json_depth) {
      return fail("JSON nested deeper than " + std::to_string(options_.max_json_depth) + " levels");
    }
    stack_.push_back(f);
    return true;
  }
  bool pop() {
    stack_.pop_back();
    return true;
  }
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }
  std::string where() const {
    return "row " + std::to_string(first_row_ + rows_) + ", column " + std::to_string(col_ + 1) +
           ": ";
  }

  bool begin_row() {
    if (options_.max_rows != 0 && out_.rows >= options_.max_rows) {
      return fail("more than " + std::to_string(options_.max_rows) + " rows in one request");
    }
    col_ = 0;
    saw_rows_ = true;
    out_.values.resize(out_.values.size() + width_, 0.0f);
    return push(Frame::kRow);
  }
  bool end_row() {
    if (col_ != width_) {
      return fail("row " + std::to_string(first_row_ + rows_) + ": expected " +
                  std::to_string(width_) + " columns, got " + std::to_string(col_));
    }
    ++rows_;
    ++out_.rows;
    return true;
  }

  static constexpr int kNumberOverflow = 406;  // nlohmann's out_of_range.406

  bool number(double v) {
    if (stack_.empty()) return fail(std::string(kExpectedShape));
    switch (top()) {
      case Frame::kTopObject:
      case Frame::kSkip:
        return true;
      case Frame::kRows:
        return fail("row " + std::to_string(first_row_ + rows_) +
                    ": expected an array of numbers, got a number");
      case Frame::kUndecided:
        stack_.pop_back();  // a bare row, [1, 2, 3]: the array was the row itself
        if (!begin_row()) return false;
        break;
      case Frame::kRow:
        break;
    }
    const float f = static_cast<float>(v);
    if (!std::isfinite(f)) {
      char shown[32];
      std::snprintf(shown, sizeof shown, "%g", v);
      return fail(where() + "'" + shown + "' is out of the float range");
    }
    if (col_ < width_) out_.values[out_.values.size() - width_ + col_] = f;
    ++col_;
    return true;
  }

  bool scalar(const char* what) {
    if (stack_.empty()) return fail(std::string(kExpectedShape));
    if (top() == Frame::kTopObject || top() == Frame::kSkip) return true;
    if (top() == Frame::kRow) return fail(where() + "expected a number, got " + what);
    return fail("row " + std::to_string(first_row_ + rows_) +
                ": expected an array of numbers, got " + what);
  }

  std::size_t width_;
  const DecodeOptions& options_;
  std::size_t first_row_;
  Matrix& out_;
  std::vector<Frame> stack_;
  bool target_key_ = false;
  bool saw_rows_ = false;
  std::size_t rows_ = 0;
  std::size_t col_ = 0;
  std::string error_;
};

}  // namespace

Status append_json_rows(std::string_view text, std::size_t width, const DecodeOptions& options,
                        std::size_t first_row_number, Matrix& out) {
  const std::size_t rows_before = out.rows;
  const std::size_t values_before = out.values.size();
  RowsSax sax(width, options, first_row_number, out);
  const bool ok = json::sax_parse(text.begin(), text.end(), &sax, json::input_format_t::json, true);
  if (ok && sax.saw_rows()) return Ok{};
  out.rows = rows_before;
  out.values.resize(values_before);
  const std::string message = ok ? std::string(kExpectedShape) : sax.error();
  return make_error(message.rfind("more than", 0) == 0 ? ErrorCode::kResourceExhausted
                                                       : ErrorCode::kInvalidArgument,
                    message);
}

}  // namespace mls::server
