// cnn_predict_bench: times ConvNet::predict_proba on one thread at batch 1 and at batch N, on
// real images, and dumps its inputs and outputs so bench/peers/torch_cnn.py can check that
// PyTorch, given the same weights, computes the same probabilities.
//
//   cnn_predict_bench [MODEL_DIR] --data IMAGES.npz [--images KEY] [--batch N] [--repeats R]
//                     [--single N] [--init-seed S] [--dump DIR]
//
// MODEL_DIR holding a manifest.json is loaded as it is (a model from `mls train`). Otherwise a
// He-initialised network (image side 28, the default architecture) is saved there with
// save_model (into a temporary directory, removed at exit, when MODEL_DIR is not given) and
// loaded back, so the timed model is always one read from disk, exactly what the peer reads.
// Prints one JSON object on stdout (see bench/README.md).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <cblas.h>
#include <unistd.h>

#include "models/artifact/model_artifact.h"
#include "models/cnn/cnn_network.h"
#include "models/cnn/conv_net.h"
#include "models/image/npz.h"
#include "models/image/preprocess.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model_dir;
  std::string data_path;
  std::string images_key = "val_images";
  std::string stats_key = "train_images";
  std::uint64_t init_seed = 1;
  std::size_t batch = 256;
  int repeats = 20;
  std::size_t single = 1000;
  std::string dump_dir;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\nusage: cnn_predict_bench [MODEL_DIR] --data IMAGES.npz [--images KEY] "
               "[--batch N] [--repeats R] [--single N] [--init-seed S] [--dump DIR]\n",
               why);
  std::exit(2);
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "error: %s\n", what.c_str());
  std::exit(1);
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
    if (arg == "--help" || arg == "-h") usage("help requested");
    if (arg.starts_with("--") && i + 1 >= argc)
      usage((std::string(arg) + " needs a value").c_str());
    if (arg == "--data")
      o.data_path = argv[++i];
    else if (arg == "--images")
      o.images_key = argv[++i];
    else if (arg == "--batch")
      o.batch = static_cast<std::size_t>(positive("--batch", argv[++i]));
    else if (arg == "--repeats")
      o.repeats = static_cast<int>(positive("--repeats", argv[++i]));
    else if (arg == "--single")
      o.single = static_cast<std::size_t>(positive("--single", argv[++i]));
    else if (arg == "--init-seed")
      o.init_seed = static_cast<std::uint64_t>(positive("--init-seed", argv[++i]));
    else if (arg == "--dump")
      o.dump_dir = argv[++i];
    else if (arg.starts_with("--"))
      usage(("unknown flag " + std::string(arg)).c_str());
    else if (o.model_dir.empty())
      o.model_dir = std::string(arg);
    else
      usage("more than one model directory");
  }
  if (o.data_path.empty()) usage("no --data");
  return o;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
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

// JSON string escaping for the few strings printed (paths, OpenBLAS's config).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

mls::ImageBatch read_images(const mls::NpzArchive& npz, const std::string& key) {
  auto array = npz.read_array(key);
  if (!array) fail(key + ": " + array.error().message);
  auto images = mls::npy_to_images(*array);
  if (!images) fail(key + ": " + images.error().message);
  if (images->count == 0) fail(key + ": no images");
  return std::move(images).value();
}

// Mean and standard deviation of the training pixels in [0, 1]: what a trainer would put in the
// manifest, so the fresh model sees inputs of the usual scale.
mls::ImageInputSpec pixel_stats(const mls::ImageBatch& images, std::size_t side) {
  double sum = 0, sum_sq = 0;
  const std::size_t count = images.count * images.height * images.width;
  for (std::size_t i = 0; i < count; ++i) {
    const double v = images.is_float ? images.f32[i] : images.u8[i] / 255.0;
    sum += v;
    sum_sq += v * v;
  }
  const double mean = sum / static_cast<double>(count);
  const double var = std::max(sum_sq / static_cast<double>(count) - mean * mean, 1e-12);
  return mls::ImageInputSpec{side, static_cast<float>(mean), static_cast<float>(std::sqrt(var))};
}

// A He-initialised network saved to `dir`, as `mls train` would save a trained one.
void save_fresh_model(const fs::path& dir, const mls::ImageInputSpec& spec, std::uint64_t seed) {
  mls::cnn::CnnArch arch;
  arch.input_size = spec.size;
  auto network = mls::cnn::CnnNetwork::create(arch);
  if (!network) fail(network.error().message);
  mls::ModelInfo info;
  info.model_type = "cnn";
  info.input_kind = mls::InputKind::kImage;
  info.image = spec;
  info.num_features = network->num_features();
  info.class_labels = {0.0, 1.0};
  info.class_names = {"0", "1"};
  info.hyperparameters_json = "{\"init\":\"he\",\"seed\":" + std::to_string(seed) + "}";
  auto net = mls::ConvNet::create(std::move(info), arch, network->init_params(seed));
  if (!net) fail(net.error().message);
  if (auto st = mls::save_model(dir, *net, "cnn-he-init"); !st) fail(st.error().message);
}

// NumPy .npy version 1.0, little-endian float32, C order: read by the Python peer with np.load.
void write_npy(const fs::path& path, const std::vector<std::size_t>& shape, const float* data) {
  std::string dims;
  std::size_t count = 1;
  for (std::size_t d : shape) {
    dims += std::to_string(d) + ",";
    count *= d;
  }
  if (shape.size() > 1) dims.pop_back();  // (n,) needs its comma, (n, m) must not end in one
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // The format wants magic + length + header, newline included, to be a multiple of 64 bytes.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const unsigned char prefix[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(reinterpret_cast<const char*>(prefix), sizeof prefix);
  const auto len = static_cast<std::uint16_t>(header.size());
  const char len_le[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_le, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data),
            static_cast<std::streamsize>(count * sizeof(float)));
  if (!out) fail(path.string() + ": cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_args(argc, argv);

  auto npz = mls::NpzArchive::open_file(opt.data_path);
  if (!npz) fail(opt.data_path + ": " + npz.error().message);
  const mls::ImageBatch images = read_images(*npz, opt.images_key);

  // Without a model, make one; a temporary directory when none was named.
  fs::path model_dir = opt.model_dir;
  fs::path temp_dir;
  bool fresh = false;
  if (model_dir.empty() || !mls::is_model_dir(model_dir)) {
    if (model_dir.empty()) {
      std::error_code ec;
      temp_dir = fs::temp_directory_path(ec) / ("cnn_bench_" + std::to_string(::getpid()));
      model_dir = temp_dir;
    }
    const mls::ImageBatch stats_images =
        npz->contains(opt.stats_key) ? read_images(*npz, opt.stats_key) : mls::ImageBatch(images);
    save_fresh_model(model_dir, pixel_stats(stats_images, 28), opt.init_seed);
    fresh = true;
  }
  auto loaded = mls::load_model(model_dir);
  if (!loaded) fail(loaded.error().message);
  const auto* net = dynamic_cast<const mls::ConvNet*>(loaded->model.get());
  if (net == nullptr) fail(model_dir.string() + " is not a cnn model");
  const mls::ImageInputSpec spec = net->info().image;
  const std::size_t features = net->num_features();
  const std::size_t k = net->num_classes();

  // Every image through the one preprocessing path the server uses, with the manifest's spec.
  const std::size_t n_images = images.count;
  mls::Matrix x;
  x.rows = n_images;
  x.cols = features;
  x.values.resize(n_images * features);
  for (std::size_t i = 0; i < n_images; ++i) {
    auto st = mls::preprocess_image(images.image(i), spec, std::span<float>(x.row(i), features));
    if (!st) fail("image " + std::to_string(i) + ": " + st.error().message);
  }

  // The parity material: every image as one batch, and every image on its own (a batch of one
  // takes other BLAS routes, sgemv for the dense layers, so it is checked too).
  std::vector<float> probs_batch(n_images * k), probs_single(n_images * k);
  net->predict_proba(x.view(), probs_batch);
  for (std::size_t i = 0; i < n_images; ++i) {
    net->predict_proba(mls::MatrixView{x.row(i), 1, features},
                       std::span<float>(probs_single.data() + i * k, k));
  }
  if (!opt.dump_dir.empty()) {
    std::error_code ec;
    fs::create_directories(opt.dump_dir, ec);
    if (ec) fail(opt.dump_dir + ": " + ec.message());
    const fs::path d = opt.dump_dir;
    write_npy(d / "inputs.npy", {n_images, spec.size, spec.size}, x.values.data());
    write_npy(d / "probs_batch.npy", {n_images, k}, probs_batch.data());
    write_npy(d / "probs_single.npy", {n_images, k}, probs_single.data());
  }

  // Batch of --batch images: the first ones of the set, cycled if it is shorter.
  mls::Matrix batch;
  batch.rows = opt.batch;
  batch.cols = features;
  batch.values.resize(opt.batch * features);
  for (std::size_t r = 0; r < opt.batch; ++r)
    std::copy(x.row(r % n_images), x.row(r % n_images) + features, batch.row(r));
  std::vector<float> out(opt.batch * k);
  net->predict_proba(batch.view(), out);  // untimed: warms caches, faults pages in
  std::vector<double> batch_ips;
  for (int rep = 0; rep < opt.repeats; ++rep) {
    const auto start = Clock::now();
    net->predict_proba(batch.view(), out);
    batch_ips.push_back(static_cast<double>(opt.batch) / seconds_since(start));
  }
  double checksum = 0;
  for (std::size_t r = 0; r < opt.batch; ++r)
    checksum += out[r * k + k - 1];

  // Batch of one: images 0, 1, 2 ... each call timed on its own, as a lone request would run.
  std::vector<double> single_us;
  single_us.reserve(opt.single);
  for (std::size_t i = 0; i < opt.single; ++i) {
    const mls::MatrixView one{x.row(i % n_images), 1, features};
    const auto start = Clock::now();
    net->predict_proba(one, std::span<float>(out.data(), k));
    single_us.push_back(seconds_since(start) * 1e6);
  }

  const auto [min_it, max_it] = std::minmax_element(batch_ips.begin(), batch_ips.end());
  const mls::cnn::CnnArch& a = net->arch();
  const double single_median = median(single_us);
  std::printf(
      "{\"impl\":\"mls\",\"model_dir\":%s,\"model\":\"%s\",\"image_size\":%zu,\"mean\":%.6f,"
      "\"std\":%.6f,\"conv1\":%zu,\"conv2\":%zu,\"hidden\":%zu,\"classes\":%zu,\"params\":%zu,"
      "\"images\":%zu,\"batch\":%zu,\"block\":%zu,\"repeats\":%d,"
      "\"batch_images_per_s_median\":%.1f,\"batch_images_per_s_min\":%.1f,"
      "\"batch_images_per_s_max\":%.1f,\"batch_images_per_s\":%s,"
      "\"single_us_median\":%.3f,\"single_images_per_s\":%.1f,\"single_calls\":%zu,"
      "\"threads\":1,\"openblas_threads\":%d,\"openblas\":%s,\"checksum\":%.6f}\n",
      json_string(fs::absolute(model_dir).string()).c_str(), fresh ? "he_init" : "loaded",
      spec.size, static_cast<double>(spec.mean), static_cast<double>(spec.std), a.conv1_channels,
      a.conv2_channels, a.hidden, k, net->params().size(), n_images, opt.batch,
      mls::ConvNet::kBlock, opt.repeats, median(batch_ips), *min_it, *max_it,
      json_array(batch_ips).c_str(), single_median, 1e6 / single_median, opt.single,
      openblas_get_num_threads(),
      json_string(std::string(openblas_get_config()) + " core=" + openblas_get_corename()).c_str(),
      checksum);

  if (!temp_dir.empty()) {
    std::error_code ec;
    fs::remove_all(temp_dir, ec);
  }
  return 0;
}
