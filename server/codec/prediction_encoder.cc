#include "server/codec/prediction_encoder.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

namespace mls::server {
namespace {

void append_float(std::string& out, float v) {
  char buf[32];
  auto [ptr, ec] =
      std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
  out.append(buf, ptr);
}

std::string label_text(double label) {
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, label);
  return std::string(buf, ptr);
}

std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_csv_quoted(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    if (c == '"')
      out += "\"\"";
    else
      out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  out += '"';
}

// Per-class text computed once per response rather than once per row.
struct ClassText {
  std::vector<std::string> labels;       // 1, 0.5 ...
  std::vector<std::string> json_prefix;  // {"label":1,"class":"pulsar","probabilities":[
};

ClassText class_text(const ModelInfo& model) {
  ClassText t;
  for (std::size_t c = 0; c < model.class_labels.size(); ++c) {
    t.labels.push_back(label_text(model.class_labels[c]));
    t.json_prefix.push_back(R"({"label":)" + t.labels.back() + R"(,"class":)" +
                            json_string(model.class_names[c]) + R"(,"probabilities":[)");
  }
  return t;
}

std::size_t argmax(const float* p, std::size_t k) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < k; ++c)
    best = p[c] > p[best] ? c : best;
  return best;
}

void append_json_row(std::string& out, const ClassText& text, const float* p, std::size_t k) {
  out += text.json_prefix[argmax(p, k)];
  for (std::size_t c = 0; c < k; ++c) {
    if (c != 0) out += ',';
    append_float(out, p[c]);
  }
  out += "]}";
}

void append_csv_row(std::string& out, const ClassText& text, const float* p, std::size_t k) {
  out += text.labels[argmax(p, k)];
  for (std::size_t c = 0; c < k; ++c) {
    out += ',';
    append_float(out, p[c]);
  }
}

}  // namespace

std::string encode_predictions(OutputFormat format, const ModelInfo& model,
                               std::span<const float> proba, std::size_t rows,
                               const std::vector<RowError>& row_errors) {
  const std::size_t k = model.class_labels.size();
  const ClassText text = class_text(model);
  std::string out;
  out.reserve(rows * (k * 12 + 48) + 32);
  if (format == OutputFormat::kJson) out += R"({"predictions":[)";
  std::size_t next_error = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    if (r != 0) out += format == OutputFormat::kJson ? "," : "\n";
    const bool bad = next_error < row_errors.size() && row_errors[next_error].row == r;
    if (bad) {
      const std::string& message = row_errors[next_error++].message;
      if (format == OutputFormat::kCsv) {
        append_csv_quoted(out, "error: " + message);
      } else {
        out += R"({"error":)" + json_string(message) + "}";
      }
      continue;
    }
    const float* p = proba.data() + r * k;
    if (format == OutputFormat::kCsv)
      append_csv_row(out, text, p, k);
    else
      append_json_row(out, text, p, k);
  }
  out += format == OutputFormat::kJson ? "]}\n" : "\n";
  return out;
}

}  // namespace mls::server
