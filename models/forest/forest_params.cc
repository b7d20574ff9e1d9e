#include "models/forest/forest_params.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace mls {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool is_none(std::string_view value) {
  const std::string v = lower(value);
  return v.empty() || v == "none" || v == "null";
}

Error bad_value(std::string_view key, std::string_view value, std::string_view expected) {
  return make_error(ErrorCode::kInvalidArgument, "hyperparameter " + std::string(key) + "='" +
                                                     std::string(value) + "': expected " +
                                                     std::string(expected));
}

const std::string* find(const Hyperparameters& hp, std::string_view key) {
  auto it = hp.find(key);
  return it == hp.end() ? nullptr : &it->second;
}

Status read_max_features(std::string_view value, ForestParams& p) {
  const std::string v = lower(value);
  if (v == "sqrt" || v == "auto") {
    p.max_features = MaxFeatures::kSqrt;
    return Ok{};
  }
  if (v == "log2") {
    p.max_features = MaxFeatures::kLog2;
    return Ok{};
  }
  if (is_none(v) || v == "all") {
    p.max_features = MaxFeatures::kAll;
    return Ok{};
  }
  const bool looks_fractional = v.find_first_of(".eE") != std::string::npos;
  if (looks_fractional) {
    auto f = read_double_hyperparameter("max_features", value, 1e-9, 1.0);
    if (!f) return f.error();
    p.max_features = MaxFeatures::kFraction;
    p.max_features_value = *f;
    return Ok{};
  }
  auto n = read_int_hyperparameter("max_features", value, 1, 1'000'000);
  if (!n)
    return bad_value("max_features", value,
                     "sqrt, log2, all, a count >= 1 or a fraction in (0, 1]");
  p.max_features = MaxFeatures::kCount;
  p.max_features_value = static_cast<double>(*n);
  return Ok{};
}

Status read_class_weight(std::string_view value, ForestParams& p) {
  const std::string v = lower(value);
  if (is_none(v))
    p.class_weight = ClassWeight::kNone;
  else if (v == "balanced")
    p.class_weight = ClassWeight::kBalanced;
  else if (v == "balanced_subsample")
    p.class_weight = ClassWeight::kBalancedSubsample;
  else
    return bad_value("class_weight", value, "none, balanced or balanced_subsample");
  return Ok{};
}

}  // namespace

Result<long long> read_int_hyperparameter(std::string_view key, std::string_view value,
                                          long long min, long long max) {
  long long out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || ptr != value.data() + value.size()) {
    // "100.0" is what some SDKs send for an integer; accept whole-valued decimals.
    double d = 0;
    auto [dptr, dec] = std::from_chars(value.data(), value.data() + value.size(), d);
    if (dec != std::errc() || dptr != value.data() + value.size() || d != std::floor(d) ||
        std::abs(d) > 9e15) {
      return bad_value(key, value, "an integer");
    }
    out = static_cast<long long>(d);
  }
  if (out < min || out > max) {
    return bad_value(key, value,
                     "an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return out;
}

Result<double> read_double_hyperparameter(std::string_view key, std::string_view value, double min,
                                          double max) {
  double out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || ptr != value.data() + value.size() || !std::isfinite(out)) {
    return bad_value(key, value, "a number");
  }
  if (out < min || out > max) {
    return bad_value(key, value,
                     "a number from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return out;
}

Result<bool> read_bool_hyperparameter(std::string_view key, std::string_view value) {
  const std::string v = lower(value);
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return bad_value(key, value, "true or false");
}

std::size_t ForestParams::features_per_split(std::size_t num_features) const {
  const double d = static_cast<double>(num_features);
  double k = d;
  switch (max_features) {
    case MaxFeatures::kSqrt:
      k = std::floor(std::sqrt(d));
      break;
    case MaxFeatures::kLog2:
      k = std::floor(std::log2(d));
      break;
    case MaxFeatures::kAll:
      k = d;
      break;
    case MaxFeatures::kCount:
      k = max_features_value;
      break;
    case MaxFeatures::kFraction:
      k = std::floor(max_features_value * d);
      break;
  }
  return static_cast<std::size_t>(std::clamp(k, 1.0, d));
}

const std::vector<std::string_view>& forest_hyperparameter_names() {
  static const std::vector<std::string_view> names = {"n_estimators",
                                                      "number_of_estimators",
                                                      "max_depth",
                                                      "min_samples_split",
                                                      "min_samples_leaf",
                                                      "max_features",
                                                      "bootstrap",
                                                      "class_weight",
                                                      "seed",
                                                      "n_jobs"};
  return names;
}

Result<ForestParams> forest_params_from(const Hyperparameters& hp) {
  ForestParams p;
  auto read_int = [&](std::string_view key, int& field, long long min, long long max) -> Status {
    const std::string* v = find(hp, key);
    if (v == nullptr) return Ok{};
    auto n = read_int_hyperparameter(key, *v, min, max);
    if (!n) return n.error();
    field = static_cast<int>(*n);
    return Ok{};
  };
  for (auto key : {"number_of_estimators", "n_estimators"}) {
    if (auto s = read_int(key, p.n_estimators, 1, 100'000); !s) return s.error();
  }
  if (const std::string* v = find(hp, "max_depth"); v != nullptr && !is_none(*v)) {
    if (auto s = read_int("max_depth", p.max_depth, 1, 10'000); !s) return s.error();
  }
  if (auto s = read_int("min_samples_split", p.min_samples_split, 2, 1'000'000'000); !s)
    return s.error();
  if (auto s = read_int("min_samples_leaf", p.min_samples_leaf, 1, 1'000'000'000); !s)
    return s.error();
  if (auto s = read_int("n_jobs", p.n_jobs, -1, 4096); !s) return s.error();
  if (p.n_jobs < 0) p.n_jobs = 0;  // scikit-learn's -1: every core
  if (const std::string* v = find(hp, "max_features")) {
    if (auto s = read_max_features(*v, p); !s) return s.error();
  }
  if (const std::string* v = find(hp, "class_weight")) {
    if (auto s = read_class_weight(*v, p); !s) return s.error();
  }
  if (const std::string* v = find(hp, "bootstrap")) {
    auto b = read_bool_hyperparameter("bootstrap", *v);
    if (!b) return b.error();
    p.bootstrap = *b;
  }
  if (const std::string* v = find(hp, "seed")) {
    auto s = read_int_hyperparameter("seed", *v, 0, (1LL << 62));
    if (!s) return s.error();
    p.seed = static_cast<std::uint64_t>(*s);
  }
  return p;
}

}  // namespace mls
