#include "models/cnn/cnn_params.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace mls::cnn {
namespace {

TEST(CnnParams, DefaultsMatchTheDocumentation) {
  auto p = cnn_params_from({});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->training.epochs, 15u);
  EXPECT_EQ(p->training.batch_size, 64u);
  EXPECT_FLOAT_EQ(p->training.adam.learning_rate, 0.001f);
  EXPECT_EQ(p->image_size, 28u);
  EXPECT_EQ(p->training.arch.input_size, 28u);
  EXPECT_EQ(p->training.seed, 0u);
  EXPECT_TRUE(p->training.augment);
}

TEST(CnnParams, ReadsEveryKey) {
  const Hyperparameters hp = {{"epochs", "3"},
                              {"batch_size", "32"},
                              {"learning_rate", "0.005"},
                              {"image_size", "64"},
                              {"seed", "9"},
                              {"conv1_channels", "8"},
                              {"conv2_channels", "12"},
                              {"hidden_units", "20"},
                              {"dropout", "0.1"},
                              {"augment", "false"},
                              {"early_stopping_patience", "0"},
                              {"validation_fraction", "0.25"}};
  auto p = cnn_params_from(hp);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto& t = p->training;
  EXPECT_EQ(t.epochs, 3u);
  EXPECT_EQ(t.batch_size, 32u);
  EXPECT_FLOAT_EQ(t.adam.learning_rate, 0.005f);
  EXPECT_EQ(p->image_size, 64u);
  EXPECT_EQ(t.arch.input_size, 64u);
  EXPECT_EQ(t.seed, 9u);
  EXPECT_EQ(t.arch.conv1_channels, 8u);
  EXPECT_EQ(t.arch.conv2_channels, 12u);
  EXPECT_EQ(t.arch.hidden, 20u);
  EXPECT_FLOAT_EQ(t.arch.dropout, 0.1f);
  EXPECT_FALSE(t.augment);
  EXPECT_EQ(t.early_stopping_patience, 0u);
  EXPECT_DOUBLE_EQ(p->validation_fraction, 0.25);
  for (const auto& [key, value] : hp) {
    const auto& names = cnn_hyperparameter_names();
    EXPECT_NE(std::find(names.begin(), names.end(), key), names.end()) << key;
  }
}

TEST(CnnParams, BadValuesNameTheKey) {
  const std::pair<const char*, const char*> bad[] = {{"epochs", "0"},
                                                     {"epochs", "ten"},
                                                     {"batch_size", "-1"},
                                                     {"learning_rate", "0"},
                                                     {"learning_rate", "abc"},
                                                     {"image_size", "2"},
                                                     {"image_size", "100000"},
                                                     {"dropout", "1"},
                                                     {"augment", "maybe"},
                                                     {"conv1_channels", "0"},
                                                     {"hidden_units", "1.5"},
                                                     {"validation_fraction", "0.95"},
                                                     {"seed", "-3"}};
  for (const auto& [key, value] : bad) {
    auto p = cnn_params_from({{key, value}});
    ASSERT_FALSE(p.ok()) << key << "=" << value;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(p.error().message.find(key), std::string::npos) << p.error().message;
  }
}

}  // namespace
}  // namespace mls::cnn
