#include "models/forest/forest_params.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace mls {
namespace {

ForestParams parse_ok(const Hyperparameters& hp) {
  auto p = forest_params_from(hp);
  if (!p.ok()) {
    ADD_FAILURE() << "unexpected error: " << p.error().message;
    return {};
  }
  return *p;
}

std::string parse_error(const Hyperparameters& hp) {
  auto p = forest_params_from(hp);
  if (p.ok()) {
    ADD_FAILURE() << "accepted invalid hyperparameters";
    return {};
  }
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument) << p.error().message;
  return p.error().message;
}

ForestParams with_max_features(MaxFeatures kind, double value = 0) {
  ForestParams p;
  p.max_features = kind;
  p.max_features_value = value;
  return p;
}

TEST(ForestParamsTest, DefaultsWhenNothingIsSet) {
  const ForestParams p = parse_ok({});
  EXPECT_EQ(p.n_estimators, 100);
  EXPECT_EQ(p.max_depth, 0);
  EXPECT_EQ(p.min_samples_split, 2);
  EXPECT_EQ(p.min_samples_leaf, 1);
  EXPECT_EQ(p.max_features, MaxFeatures::kSqrt);
  EXPECT_TRUE(p.bootstrap);
  EXPECT_EQ(p.class_weight, ClassWeight::kNone);
  EXPECT_EQ(p.seed, 0u);
  EXPECT_EQ(p.n_jobs, 0);
}

TEST(ForestParamsTest, ReadsEstimatorsUnderEitherName) {
  EXPECT_EQ(parse_ok({{"n_estimators", "7"}}).n_estimators, 7);
  EXPECT_EQ(parse_ok({{"number_of_estimators", "9"}}).n_estimators, 9);
  EXPECT_EQ(parse_error({{"number_of_estimators", "x"}}),
            "hyperparameter number_of_estimators='x': expected an integer");
}

TEST(ForestParamsTest, AcceptsWholeValuedDecimalsAsIntegers) {
  EXPECT_EQ(parse_ok({{"n_estimators", "100.0"}}).n_estimators, 100);
  EXPECT_EQ(parse_ok({{"n_estimators", "1e2"}}).n_estimators, 100);
  EXPECT_EQ(parse_ok({{"min_samples_leaf", "3.0"}}).min_samples_leaf, 3);
  EXPECT_EQ(parse_error({{"n_estimators", "100.5"}}),
            "hyperparameter n_estimators='100.5': expected an integer");
  EXPECT_EQ(parse_error({{"n_estimators", "1e300"}}),
            "hyperparameter n_estimators='1e300': expected an integer");
}

TEST(ForestParamsTest, RejectsBadIntegersNamingTheKey) {
  EXPECT_EQ(parse_error({{"n_estimators", "abc"}}),
            "hyperparameter n_estimators='abc': expected an integer");
  EXPECT_EQ(parse_error({{"n_estimators", "-3"}}),
            "hyperparameter n_estimators='-3': expected an integer from 1 to 100000");
  EXPECT_EQ(parse_error({{"n_estimators", "0"}}),
            "hyperparameter n_estimators='0': expected an integer from 1 to 100000");
  EXPECT_EQ(parse_error({{"n_estimators", ""}}),
            "hyperparameter n_estimators='': expected an integer");
  EXPECT_EQ(parse_error({{"min_samples_split", "1"}}),
            "hyperparameter min_samples_split='1': expected an integer from 2 to 1000000000");
  EXPECT_EQ(parse_error({{"min_samples_leaf", "0"}}),
            "hyperparameter min_samples_leaf='0': expected an integer from 1 to 1000000000");
}

TEST(ForestParamsTest, MaxDepthNoneMeansUnlimited) {
  for (const char* none : {"None", "none", "null", ""}) {
    EXPECT_EQ(parse_ok({{"max_depth", none}}).max_depth, 0) << none;
  }
  EXPECT_EQ(parse_ok({{"max_depth", "5"}}).max_depth, 5);
  EXPECT_EQ(parse_ok({{"max_depth", "5.0"}}).max_depth, 5);
  EXPECT_EQ(parse_error({{"max_depth", "0"}}),
            "hyperparameter max_depth='0': expected an integer from 1 to 10000");
}

TEST(ForestParamsTest, NJobsMinusOneMeansEveryCore) {
  EXPECT_EQ(parse_ok({{"n_jobs", "-1"}}).n_jobs, 0);
  EXPECT_EQ(parse_ok({{"n_jobs", "3"}}).n_jobs, 3);
  EXPECT_EQ(parse_error({{"n_jobs", "-2"}}),
            "hyperparameter n_jobs='-2': expected an integer from -1 to 4096");
}

TEST(ForestParamsTest, MaxFeaturesNamedForms) {
  for (const char* sqrt : {"sqrt", "SQRT", "auto"}) {
    EXPECT_EQ(parse_ok({{"max_features", sqrt}}).max_features, MaxFeatures::kSqrt) << sqrt;
  }
  EXPECT_EQ(parse_ok({{"max_features", "log2"}}).max_features, MaxFeatures::kLog2);
  for (const char* all : {"all", "None", "none", "null", ""}) {
    EXPECT_EQ(parse_ok({{"max_features", all}}).max_features, MaxFeatures::kAll) << all;
  }
}

TEST(ForestParamsTest, MaxFeaturesCountsAndFractions) {
  const ForestParams three = parse_ok({{"max_features", "3"}});
  EXPECT_EQ(three.max_features, MaxFeatures::kCount);
  EXPECT_EQ(three.max_features_value, 3.0);
  EXPECT_EQ(three.features_per_split(10), 3u);

  const ForestParams half = parse_ok({{"max_features", "0.5"}});
  EXPECT_EQ(half.max_features, MaxFeatures::kFraction);
  EXPECT_EQ(half.max_features_value, 0.5);
  EXPECT_EQ(half.features_per_split(10), 5u);

  // "1.0" is the fraction 1 (every feature); "1" is the count 1 (one feature).
  EXPECT_EQ(parse_ok({{"max_features", "1.0"}}).features_per_split(10), 10u);
  EXPECT_EQ(parse_ok({{"max_features", "1"}}).features_per_split(10), 1u);
}

TEST(ForestParamsTest, MaxFeaturesRejectsNonsense) {
  EXPECT_EQ(parse_error({{"max_features", "0"}}),
            "hyperparameter max_features='0': expected sqrt, log2, all, a count >= 1 or a fraction "
            "in (0, 1]");
  EXPECT_EQ(parse_error({{"max_features", "many"}}),
            "hyperparameter max_features='many': expected sqrt, log2, all, a count >= 1 or a "
            "fraction in (0, 1]");
  for (const char* bad : {"1.5", "0.0", "-0.5"}) {
    const std::string message = parse_error({{"max_features", bad}});
    EXPECT_EQ(message.rfind("hyperparameter max_features='" + std::string(bad) + "': expected", 0),
              0u)
        << message;
  }
}

TEST(ForestParamsTest, FeaturesPerSplitValues) {
  EXPECT_EQ(with_max_features(MaxFeatures::kSqrt).features_per_split(8), 2u);
  EXPECT_EQ(with_max_features(MaxFeatures::kSqrt).features_per_split(9), 3u);
  EXPECT_EQ(with_max_features(MaxFeatures::kSqrt).features_per_split(1), 1u);
  EXPECT_EQ(with_max_features(MaxFeatures::kLog2).features_per_split(8), 3u);
  EXPECT_EQ(with_max_features(MaxFeatures::kLog2).features_per_split(10), 3u);
  EXPECT_EQ(with_max_features(MaxFeatures::kLog2).features_per_split(1), 1u);  // log2(1) = 0
  EXPECT_EQ(with_max_features(MaxFeatures::kAll).features_per_split(8), 8u);
  EXPECT_EQ(with_max_features(MaxFeatures::kCount, 3).features_per_split(8), 3u);
  EXPECT_EQ(with_max_features(MaxFeatures::kCount, 20).features_per_split(8), 8u);
  EXPECT_EQ(with_max_features(MaxFeatures::kFraction, 0.5).features_per_split(8), 4u);
  EXPECT_EQ(with_max_features(MaxFeatures::kFraction, 0.3).features_per_split(8), 2u);
  EXPECT_EQ(with_max_features(MaxFeatures::kFraction, 0.01).features_per_split(8), 1u);
  EXPECT_EQ(with_max_features(MaxFeatures::kFraction, 1.0).features_per_split(8), 8u);
}

TEST(ForestParamsTest, ClassWeightValues) {
  EXPECT_EQ(parse_ok({{"class_weight", "balanced"}}).class_weight, ClassWeight::kBalanced);
  EXPECT_EQ(parse_ok({{"class_weight", "Balanced"}}).class_weight, ClassWeight::kBalanced);
  EXPECT_EQ(parse_ok({{"class_weight", "balanced_subsample"}}).class_weight,
            ClassWeight::kBalancedSubsample);
  for (const char* none : {"None", "none", "null", ""}) {
    EXPECT_EQ(parse_ok({{"class_weight", none}}).class_weight, ClassWeight::kNone) << none;
  }
  EXPECT_EQ(
      parse_error({{"class_weight", "weighted"}}),
      "hyperparameter class_weight='weighted': expected none, balanced or balanced_subsample");
}

TEST(ForestParamsTest, BootstrapValues) {
  for (const char* yes : {"true", "True", "TRUE", "1", "yes"}) {
    EXPECT_TRUE(parse_ok({{"bootstrap", yes}}).bootstrap) << yes;
  }
  for (const char* no : {"false", "False", "0", "no"}) {
    EXPECT_FALSE(parse_ok({{"bootstrap", no}}).bootstrap) << no;
  }
  EXPECT_EQ(parse_error({{"bootstrap", "maybe"}}),
            "hyperparameter bootstrap='maybe': expected true or false");
}

TEST(ForestParamsTest, SeedValues) {
  EXPECT_EQ(parse_ok({{"seed", "42"}}).seed, 42u);
  EXPECT_EQ(parse_ok({{"seed", "4611686018427387904"}}).seed, std::uint64_t{1} << 62);
  EXPECT_EQ(parse_error({{"seed", "-1"}}),
            "hyperparameter seed='-1': expected an integer from 0 to 4611686018427387904");
  EXPECT_EQ(parse_error({{"seed", "abc"}}), "hyperparameter seed='abc': expected an integer");
}

TEST(ForestParamsTest, HyperparameterNamesListEveryKeyRead) {
  const auto& names = forest_hyperparameter_names();
  for (const char* key :
       {"n_estimators", "number_of_estimators", "max_depth", "min_samples_split",
        "min_samples_leaf", "max_features", "bootstrap", "class_weight", "seed", "n_jobs"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), key), names.end()) << key;
  }
  EXPECT_EQ(names.size(), 10u);
}

TEST(ForestParamsTest, SharedReaders) {
  auto d = read_double_hyperparameter("eta", "0.25", 0, 1);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, 0.25);
  EXPECT_EQ(read_double_hyperparameter("eta", "nan", 0, 1).error().message,
            "hyperparameter eta='nan': expected a number");
  EXPECT_EQ(read_double_hyperparameter("eta", "inf", 0, 1e300).error().message,
            "hyperparameter eta='inf': expected a number");
  auto n = read_int_hyperparameter("k", "12", 0, 100);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 12);
  EXPECT_FALSE(read_int_hyperparameter("k", "12 ", 0, 100).ok());
  auto b = read_bool_hyperparameter("flag", "Yes");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(*b);
}

}  // namespace
}  // namespace mls
