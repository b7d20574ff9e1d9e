#include "models/cnn/cnn_params.h"

namespace mls::cnn {
namespace {

const std::string* find(const Hyperparameters& hp, std::string_view key) {
  auto it = hp.find(key);
  return it == hp.end() ? nullptr : &it->second;
}

template <class T>
Status read_int(const Hyperparameters& hp, std::string_view key, T& field, long long min,
                long long max) {
  const std::string* v = find(hp, key);
  if (v == nullptr) return Ok{};
  auto n = read_int_hyperparameter(key, *v, min, max);
  if (!n) return n.error();
  field = static_cast<T>(*n);
  return Ok{};
}

template <class T>
Status read_double(const Hyperparameters& hp, std::string_view key, T& field, double min,
                   double max) {
  const std::string* v = find(hp, key);
  if (v == nullptr) return Ok{};
  auto d = read_double_hyperparameter(key, *v, min, max);
  if (!d) return d.error();
  field = static_cast<T>(*d);
  return Ok{};
}

}  // namespace

const std::vector<std::string_view>& cnn_hyperparameter_names() {
  static const std::vector<std::string_view> names = {
      "epochs",  "batch_size",     "learning_rate",           "image_size",
      "seed",    "conv1_channels", "conv2_channels",          "hidden_units",
      "dropout", "augment",        "early_stopping_patience", "validation_fraction"};
  return names;
}

Result<CnnJobParams> cnn_params_from(const Hyperparameters& hp) {
  CnnJobParams p;
  CnnTrainingParams& t = p.training;
  const Status reads[] = {
      read_int(hp, "epochs", t.epochs, 1, 100'000),
      read_int(hp, "batch_size", t.batch_size, 1, 65'536),
      read_double(hp, "learning_rate", t.adam.learning_rate, 1e-7, 10.0),
      read_int(hp, "image_size", p.image_size, 4, 512),
      read_int(hp, "seed", t.seed, 0, 1LL << 62),
      read_int(hp, "conv1_channels", t.arch.conv1_channels, 1, 1024),
      read_int(hp, "conv2_channels", t.arch.conv2_channels, 1, 1024),
      read_int(hp, "hidden_units", t.arch.hidden, 1, 65'536),
      read_double(hp, "dropout", t.arch.dropout, 0.0, 0.95),
      read_int(hp, "early_stopping_patience", t.early_stopping_patience, 0, 100'000),
      read_double(hp, "validation_fraction", p.validation_fraction, 0.0, 0.9),
  };
  for (const Status& s : reads) {
    if (!s) return s.error();
  }
  if (const std::string* v = find(hp, "augment")) {
    auto b = read_bool_hyperparameter("augment", *v);
    if (!b) return b.error();
    t.augment = *b;
  }
  t.arch.input_size = p.image_size;
  return p;
}

}  // namespace mls::cnn
