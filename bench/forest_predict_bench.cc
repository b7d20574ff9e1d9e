// forest_predict_bench: trains a forest on a CSV file and times RandomForest::predict_proba.
//
//   forest_predict_bench DATA.csv [--seed N] [--trees N] [--repeats R] [--batch N] [--single-rows
//   N]
//
// DATA.csv (or a directory of CSV files) is read the way `mls train` reads a channel, label last.
// The batch is the first --batch rows of the data (cycled if the data is shorter); bench/peers/
// sklearn_forest.py scores exactly the same rows. Prints one JSON object on stdout (see
// bench/README.md).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

#include "models/core/matrix.h"
#include "models/data/tabular_loader.h"
#include "models/forest/forest.h"
#include "models/forest/forest_params.h"
#include "models/forest/forest_trainer.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string data_path;
  std::string seed = "1";
  std::string trees = "100";
  int repeats = 10;
  std::size_t batch = 10'000;
  std::size_t single_rows = 5'000;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(
      stderr,
      "error: %s\nusage: forest_predict_bench DATA.csv|DIR [--seed N] [--trees N] [--repeats R] "
      "[--batch N] [--single-rows N]\n",
      why);
  std::exit(2);
}

long long positive(const char* flag, const char* text) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v <= 0)
    usage((std::string(flag) + " needs a positive integer").c_str());
  return v;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--help" || arg == "-h") usage("help requested");
    if (arg.starts_with("--") && !has_value) usage((std::string(arg) + " needs a value").c_str());
    if (arg == "--seed")
      o.seed = argv[++i];
    else if (arg == "--trees")
      o.trees = argv[++i];
    else if (arg == "--repeats")
      o.repeats = static_cast<int>(positive("--repeats", argv[++i]));
    else if (arg == "--batch")
      o.batch = static_cast<std::size_t>(positive("--batch", argv[++i]));
    else if (arg == "--single-rows")
      o.single_rows = static_cast<std::size_t>(positive("--single-rows", argv[++i]));
    else if (arg.starts_with("--"))
      usage(("unknown flag " + std::string(arg)).c_str());
    else if (o.data_path.empty())
      o.data_path = std::string(arg);
    else
      usage("more than one data path");
  }
  if (o.data_path.empty()) usage("no data path");
  return o;
}

// load_tabular_channel reads a directory; a single file is linked into a temporary one.
mls::Result<mls::TabularDataset> load_data(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return mls::load_tabular_channel(path, mls::LabelColumn{-1});
  const fs::path dir = fs::temp_directory_path(ec) / ("forest_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  if (!ec) fs::create_symlink(fs::absolute(path, ec), dir / path.filename(), ec);
  if (ec) return mls::make_error(mls::ErrorCode::kInternal, dir.string() + ": " + ec.message());
  auto data = mls::load_tabular_channel(dir, mls::LabelColumn{-1});
  fs::remove_all(dir, ec);
  return data;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Mean number of nodes a row visits per tree (leaf included): what one prediction costs.
double mean_path_length(const mls::RandomForest& forest, mls::MatrixView x) {
  const auto& a = forest.arrays();
  double visits = 0;
  for (std::size_t r = 0; r < x.rows; ++r) {
    const float* row = x.row(r);
    for (std::int32_t start : a.tree_starts) {
      std::int32_t i = start;
      visits += 1;
      while (a.nodes[i].feature != mls::ForestNode::kLeaf) {
        i = row[a.nodes[i].feature] <= a.nodes[i].threshold ? a.nodes[i].left : a.nodes[i].right;
        visits += 1;
      }
    }
  }
  return visits / (static_cast<double>(x.rows) * static_cast<double>(forest.num_trees()));
}

std::string json_array(const std::vector<double>& v) {
  std::string s = "[";
  char buf[32];
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.1f", i == 0 ? "" : ",", v[i]);
    s += buf;
  }
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_args(argc, argv);

  auto data = load_data(opt.data_path);
  if (!data) {
    std::fprintf(stderr, "error: %s\n", data.error().message.c_str());
    return 1;
  }
  // The same hyperparameters as sklearn_forest.py: 100 trees, sqrt features, bootstrap, no depth
  // limit.
  const mls::Hyperparameters hp = {
      {"n_estimators", opt.trees}, {"max_features", "sqrt"}, {"seed", opt.seed}};
  auto params = mls::forest_params_from(hp);
  if (!params) {
    std::fprintf(stderr, "error: %s\n", params.error().message.c_str());
    return 1;
  }

  const auto train_start = Clock::now();
  auto trained = mls::train_forest(*data, *params, mls::ModelInfo{});
  const double train_seconds = seconds_since(train_start);
  if (!trained) {
    std::fprintf(stderr, "error: %s\n", trained.error().message.c_str());
    return 1;
  }
  const mls::RandomForest& forest = trained->forest;
  const std::size_t cols = data->x.cols;
  const std::size_t k = forest.num_classes();

  // The batch: the first opt.batch rows, cycled if the data set is shorter.
  mls::Matrix batch;
  batch.rows = opt.batch;
  batch.cols = cols;
  batch.values.resize(opt.batch * cols);
  for (std::size_t r = 0; r < opt.batch; ++r) {
    const float* src = data->x.row(r % data->x.rows);
    std::copy(src, src + cols, batch.row(r));
  }
  std::vector<float> out(opt.batch * k);

  // One untimed pass warms caches and faults in the output pages.
  forest.predict_proba(batch.view(), out);
  std::vector<double> rows_per_second;
  for (int rep = 0; rep < opt.repeats; ++rep) {
    const auto start = Clock::now();
    forest.predict_proba(batch.view(), out);
    rows_per_second.push_back(static_cast<double>(opt.batch) / seconds_since(start));
  }
  double checksum = 0;
  for (std::size_t r = 0; r < opt.batch; ++r)
    checksum += out[r * k + k - 1];

  // Batch of one: rows 0, 1, 2 ... of the batch, each call timed on its own; the median call.
  std::vector<double> single_us;
  single_us.reserve(opt.single_rows);
  for (std::size_t i = 0; i < opt.single_rows; ++i) {
    const mls::MatrixView one{batch.row(i % opt.batch), 1, cols};
    const auto start = Clock::now();
    forest.predict_proba(one, std::span<float>(out.data(), k));
    single_us.push_back(seconds_since(start) * 1e6);
  }

  const auto [min_it, max_it] = std::minmax_element(rows_per_second.begin(), rows_per_second.end());
  std::printf(
      "{\"impl\":\"mls\",\"seed\":%s,\"rows\":%zu,\"features\":%zu,\"trees\":%zu,\"nodes\":%zu,"
      "\"mean_path_length\":%.3f,\"batch\":%zu,\"repeats\":%d,"
      "\"rows_per_s_median\":%.1f,\"rows_per_s_min\":%.1f,\"rows_per_s_max\":%.1f,"
      "\"rows_per_s\":%s,\"single_row_us_median\":%.3f,\"single_rows\":%zu,"
      "\"train_seconds\":%.4f,\"train_threads\":\"all cores\",\"checksum\":%.6f}\n",
      opt.seed.c_str(), data->x.rows, cols, forest.num_trees(), forest.num_nodes(),
      mean_path_length(forest, batch.view()), opt.batch, opt.repeats, median(rows_per_second),
      *min_it, *max_it, json_array(rows_per_second).c_str(), median(single_us), opt.single_rows,
      train_seconds, checksum);
  return 0;
}
