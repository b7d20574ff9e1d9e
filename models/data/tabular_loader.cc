#include "models/data/tabular_loader.h"
#include "models/core/text.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "models/artifact/artifact_files.h"
#include "models/data/csv.h"

namespace mls {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxCsvFileBytes = 8ull << 30;

Error in_file(const fs::path& path, const Error& e) {
  return make_error(e.code, path.filename().string() + ": " + e.message);
}

// Appends one parsed file's rows, moving the label column out into `labels`.
void split_label(const Matrix& table, std::size_t label_col, Matrix& x,
                 std::vector<double>& labels) {
  x.cols = table.cols - 1;
  for (std::size_t r = 0; r < table.rows; ++r) {
    const float* row = table.row(r);
    for (std::size_t c = 0; c < table.cols; ++c) {
      if (c == label_col)
        labels.push_back(row[c]);
      else
        x.values.push_back(row[c]);
    }
  }
  x.rows += table.rows;
}

}  // namespace

Result<LabelColumn> parse_label_column(std::string_view text) {
  if (text == "last" || text.empty()) return LabelColumn{-1};
  if (text == "first") return LabelColumn{0};
  long long index = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return make_error(ErrorCode::kInvalidArgument, "hyperparameter label_column='" +
                                                       std::string(text) +
                                                       "': expected first, last or a column index");
  }
  return LabelColumn{index};
}

std::vector<fs::path> list_data_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<TabularDataset> load_tabular_channel(const fs::path& dir, LabelColumn label,
                                            const std::vector<double>* class_labels) {
  const std::vector<fs::path> files = list_data_files(dir);
  if (files.empty()) return make_error(ErrorCode::kNotFound, dir.string() + " has no data files");
  TabularDataset data;
  std::vector<double> raw_labels;
  std::size_t width = 0;
  std::size_t label_col = 0;
  for (const fs::path& file : files) {
    auto text = read_whole_file(file, kMaxCsvFileBytes);
    if (!text) return text.error();
    CsvOptions options;
    options.expected_cols = width;
    options.detect_header = true;
    options.skip_blank_lines = true;
    options.record_row_lines = class_labels != nullptr;
    auto table = parse_csv(*text, options);
    if (!table) return in_file(file, table.error());
    if (width == 0) {
      width = table->matrix.cols;
      if (width < 2)
        return in_file(file, make_error(ErrorCode::kInvalidArgument,
                                        "need at least 2 columns (features and a label)"));
      const long long idx =
          label.index < 0 ? static_cast<long long>(width) + label.index : label.index;
      if (idx < 0 || idx >= static_cast<long long>(width)) {
        return in_file(
            file, make_error(ErrorCode::kInvalidArgument,
                             "label_column " + std::to_string(label.index) + " is outside the " +
                                 std::to_string(width) + " columns"));
      }
      label_col = static_cast<std::size_t>(idx);
      if (table->header.size() == width) {
        for (std::size_t c = 0; c < width; ++c) {
          if (c != label_col) data.feature_names.push_back(table->header[c]);
        }
      }
    }
    const std::size_t first_new = raw_labels.size();
    split_label(table->matrix, label_col, data.x, raw_labels);
    if (class_labels != nullptr) {
      for (std::size_t i = first_new; i < raw_labels.size(); ++i) {
        if (!std::binary_search(class_labels->begin(), class_labels->end(), raw_labels[i])) {
          return in_file(file, make_error(ErrorCode::kInvalidArgument,
                                          "row " + std::to_string(table->row_lines[i - first_new]) +
                                              " has label " + number_text(raw_labels[i]) +
                                              ", which the training channel never uses"));
        }
      }
    }
  }
  if (class_labels == nullptr) {
    std::set<double> distinct(raw_labels.begin(), raw_labels.end());
    data.class_labels.assign(distinct.begin(), distinct.end());
  } else {
    data.class_labels = *class_labels;
  }
  data.y.reserve(raw_labels.size());
  for (std::size_t i = 0; i < raw_labels.size(); ++i) {
    auto it = std::lower_bound(data.class_labels.begin(), data.class_labels.end(), raw_labels[i]);
    if (it == data.class_labels.end() || *it != raw_labels[i]) {
      return make_error(ErrorCode::kInvalidArgument, dir.filename().string() + ": row " +
                                                         std::to_string(i + 1) + " has label " +
                                                         std::to_string(raw_labels[i]) +
                                                         ", which the training channel never uses");
    }
    data.y.push_back(static_cast<int>(it - data.class_labels.begin()));
  }
  return data;
}

}  // namespace mls
