#pragma once
// The forest's hyperparameters, and how their SageMaker string values are read.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/status.h"

namespace mls {

// Hyperparameters as SageMaker hands them over: names to (already unquoted) strings.
using Hyperparameters = std::map<std::string, std::string, std::less<>>;

enum class MaxFeatures { kSqrt, kLog2, kAll, kCount, kFraction };
enum class ClassWeight { kNone, kBalanced, kBalancedSubsample };

struct ForestParams {
  int n_estimators = 100;
  int max_depth = 0;  // 0: grow until leaves are pure or min_samples_* stops them
  int min_samples_split = 2;
  int min_samples_leaf = 1;
  MaxFeatures max_features = MaxFeatures::kSqrt;
  double max_features_value = 0;  // the count or fraction for kCount / kFraction
  bool bootstrap = true;
  ClassWeight class_weight = ClassWeight::kNone;
  std::uint64_t seed = 0;
  int n_jobs = 0;  // 0: every core

  // The number of features each split considers, for a data set of num_features columns.
  std::size_t features_per_split(std::size_t num_features) const;
};

// Reads the forest's keys from hp (n_estimators or number_of_estimators, max_depth,
// min_samples_split, min_samples_leaf, max_features, bootstrap, class_weight, seed, n_jobs).
// Errors: kInvalidArgument naming the key and the value.
Result<ForestParams> forest_params_from(const Hyperparameters& hp);

// The keys forest_params_from reads, so the caller can report the ones nobody reads.
const std::vector<std::string_view>& forest_hyperparameter_names();

// Shared readers for hyperparameter values; errors name the key.
Result<long long> read_int_hyperparameter(std::string_view key, std::string_view value,
                                          long long min, long long max);
Result<double> read_double_hyperparameter(std::string_view key, std::string_view value, double min,
                                          double max);
Result<bool> read_bool_hyperparameter(std::string_view key, std::string_view value);

}  // namespace mls
