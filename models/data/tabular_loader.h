#pragma once
// Reads a SageMaker training channel of CSV files into a labelled table.

#include <filesystem>
#include <string_view>
#include <vector>

#include "models/core/status.h"
#include "models/data/tabular_dataset.h"

namespace mls {

// Which column holds the label: "first", "last" or a 0-based index (negative counts from the end).
struct LabelColumn {
  long long index = -1;  // -1 is "last"
};
Result<LabelColumn> parse_label_column(std::string_view text);

// Every regular, non-hidden file under dir (recursively, in path order) is read as CSV with any
// line ends, an optional header line, and the same column count throughout.
// class_labels: null for the training channel (the labels found define the classes); for a
// validation channel, the training classes, which every label must be one of.
// Errors: kNotFound (no files), kInvalidArgument naming the file, row and column.
Result<TabularDataset> load_tabular_channel(const std::filesystem::path& dir, LabelColumn label,
                                            const std::vector<double>* class_labels = nullptr);

// The files load_tabular_channel would read.
std::vector<std::filesystem::path> list_data_files(const std::filesystem::path& dir);

}  // namespace mls
