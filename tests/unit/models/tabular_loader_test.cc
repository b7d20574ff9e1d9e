#include "models/data/tabular_loader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace mls {
namespace {

using testing::TempDir;
using Floats = std::vector<float>;

TabularDataset load_ok(const std::filesystem::path& dir, LabelColumn label = {},
                       const std::vector<double>* classes = nullptr) {
  auto data = load_tabular_channel(dir, label, classes);
  if (!data.ok()) {
    ADD_FAILURE() << "unexpected error: " << data.error().message;
    return {};
  }
  return std::move(data).value();
}

std::string load_error(const std::filesystem::path& dir, ErrorCode code, LabelColumn label = {},
                       const std::vector<double>* classes = nullptr) {
  auto data = load_tabular_channel(dir, label, classes);
  if (data.ok()) {
    ADD_FAILURE() << "loaded " << data->x.rows << " rows, expected an error";
    return {};
  }
  EXPECT_EQ(data.error().code, code) << data.error().message;
  return data.error().message;
}

TEST(TabularLoaderTest, LoadsEveryFileWhateverItsLineEnds) {
  TempDir tmp;
  tmp.write("train/a.csv", "f1,f2,label\r\n1,2,0\r\n3,4,1\r\n");  // CRLF with a header
  tmp.write("train/b.csv", "5,6,1\r7,8,0\r");                     // bare CR, no header
  tmp.write("train/sub/c.csv", "9,10,2\n\n");                     // LF, nested, blank line
  const TabularDataset data = load_ok(tmp.path() / "train");
  EXPECT_EQ(data.x.rows, 5u);
  EXPECT_EQ(data.x.cols, 2u);
  EXPECT_EQ(data.x.values, (Floats{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(data.y, (std::vector<int>{0, 1, 1, 0, 2}));
  EXPECT_EQ(data.class_labels, (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"f1", "f2"}));
}

TEST(TabularLoaderTest, LaterFilesMayHaveHeadersToo) {
  TempDir tmp;
  tmp.write("a.csv", "1,2,0\n");
  tmp.write("b.csv", "f1,f2,label\n3,4,1\n");
  const TabularDataset data = load_ok(tmp.path());
  EXPECT_EQ(data.x.values, (Floats{1, 2, 3, 4}));
  EXPECT_EQ(data.y, (std::vector<int>{0, 1}));
}

TEST(TabularLoaderTest, LabelColumnFirstLastOrIndex) {
  TempDir tmp;
  tmp.write("d.csv", "y,a,b\n0,5,7\n1,6,8\n");
  const TabularDataset first = load_ok(tmp.path(), LabelColumn{0});
  EXPECT_EQ(first.x.values, (Floats{5, 7, 6, 8}));
  EXPECT_EQ(first.class_labels, (std::vector<double>{0, 1}));
  EXPECT_EQ(first.feature_names, (std::vector<std::string>{"a", "b"}));

  const TabularDataset last = load_ok(tmp.path(), LabelColumn{-1});
  EXPECT_EQ(last.x.values, (Floats{0, 5, 1, 6}));
  EXPECT_EQ(last.class_labels, (std::vector<double>{7, 8}));
  EXPECT_EQ(last.feature_names, (std::vector<std::string>{"y", "a"}));

  for (long long index : {1LL, -2LL}) {
    const TabularDataset middle = load_ok(tmp.path(), LabelColumn{index});
    EXPECT_EQ(middle.x.values, (Floats{0, 7, 1, 8})) << index;
    EXPECT_EQ(middle.class_labels, (std::vector<double>{5, 6})) << index;
    EXPECT_EQ(middle.y, (std::vector<int>{0, 1})) << index;
  }
  EXPECT_EQ(load_error(tmp.path(), ErrorCode::kInvalidArgument, LabelColumn{3}),
            "d.csv: label_column 3 is outside the 3 columns");
  EXPECT_EQ(load_error(tmp.path(), ErrorCode::kInvalidArgument, LabelColumn{-4}),
            "d.csv: label_column -4 is outside the 3 columns");
}

TEST(TabularLoaderTest, ParseLabelColumn) {
  EXPECT_EQ(parse_label_column("first")->index, 0);
  EXPECT_EQ(parse_label_column("last")->index, -1);
  EXPECT_EQ(parse_label_column("")->index, -1);
  EXPECT_EQ(parse_label_column("2")->index, 2);
  EXPECT_EQ(parse_label_column("-2")->index, -2);
  auto bad = parse_label_column("middle");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message,
            "hyperparameter label_column='middle': expected first, last or a column index");
}

TEST(TabularLoaderTest, HiddenFilesAndDirectoriesAreIgnored) {
  TempDir tmp;
  tmp.write("data.csv", "1,0\n2,1\n");
  tmp.write(".DS_Store", "\x01\x02 not csv");
  tmp.write(".cache/junk.csv", "garbage");
  tmp.write("sub/.hidden.csv", "garbage");
  const auto files = list_data_files(tmp.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename(), "data.csv");
  EXPECT_EQ(load_ok(tmp.path()).x.rows, 2u);
}

TEST(TabularLoaderTest, EmptyOrMissingChannelIsNotFound) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "empty");
  load_error(tmp.path() / "empty", ErrorCode::kNotFound);
  load_error(tmp.path() / "missing", ErrorCode::kNotFound);
  tmp.write("hidden_only/.x.csv", "1,0\n");
  const std::string message = load_error(tmp.path() / "hidden_only", ErrorCode::kNotFound);
  EXPECT_NE(message.find("has no data files"), std::string::npos) << message;
}

TEST(TabularLoaderTest, NonNumericCellNamesFileRowAndColumn) {
  TempDir tmp;
  tmp.write("a.csv", "1,2,0\n");
  tmp.write("b.csv", "x,y,label\n3,4,1\n3,abc,1\n");
  EXPECT_EQ(load_error(tmp.path(), ErrorCode::kInvalidArgument),
            "b.csv: row 3, column 2: 'abc' is not a number");
}

TEST(TabularLoaderTest, FilesMustAgreeOnTheWidth) {
  TempDir tmp;
  tmp.write("a.csv", "1,2,0\n");
  tmp.write("b.csv", "3,1\n");
  EXPECT_EQ(load_error(tmp.path(), ErrorCode::kInvalidArgument),
            "b.csv: row 1: expected 3 columns, got 2");
}

TEST(TabularLoaderTest, NeedsFeaturesAndALabel) {
  TempDir tmp;
  tmp.write("a.csv", "1\n0\n");
  EXPECT_EQ(load_error(tmp.path(), ErrorCode::kInvalidArgument),
            "a.csv: need at least 2 columns (features and a label)");
}

TEST(TabularLoaderTest, ValidationUsesTheTrainingClasses) {
  TempDir tmp;
  tmp.write("validation/v.csv", "1,2,1\n3,4,1\n");
  const std::vector<double> classes = {0, 1, 2};
  const TabularDataset data = load_ok(tmp.path() / "validation", {}, &classes);
  EXPECT_EQ(data.class_labels, classes);
  EXPECT_EQ(data.y, (std::vector<int>{1, 1}));
}

TEST(TabularLoaderTest, ValidationLabelUnseenInTrainingIsAnError) {
  TempDir tmp;
  tmp.write("validation/v.csv", "1,2,0\n3,4,5\n");
  const std::vector<double> classes = {0, 1};
  const std::string message =
      load_error(tmp.path() / "validation", ErrorCode::kInvalidArgument, {}, &classes);
  EXPECT_NE(message.find("row 2"), std::string::npos) << message;
  EXPECT_NE(message.find("label 5"), std::string::npos) << message;
  EXPECT_NE(message.find("never uses"), std::string::npos) << message;
}

// Regression: the unseen-label error names the channel directory and counts data
// rows across all files ("validation: row 3 has label ..."), not the file and its line, unlike
// every other loader error (and the header's promise to name the file and row).
TEST(TabularLoaderTest, UnseenLabelNamesTheFileAndItsRow) {
  TempDir tmp;
  tmp.write("validation/a.csv", "1,2,0\n3,4,1\n");
  tmp.write("validation/b.csv", "x,y,label\n5,6,7\n");
  const std::vector<double> classes = {0, 1};
  const std::string message =
      load_error(tmp.path() / "validation", ErrorCode::kInvalidArgument, {}, &classes);
  EXPECT_NE(message.find("b.csv"), std::string::npos) << message;
  EXPECT_NE(message.find("row 2"), std::string::npos) << message;
}

}  // namespace
}  // namespace mls
