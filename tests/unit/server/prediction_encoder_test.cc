#include "server/codec/prediction_encoder.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace mls::server {
namespace {

ModelInfo two_classes() {
  ModelInfo info;
  info.model_type = "forest";
  info.num_features = 1;
  info.class_labels = {0, 1};
  info.class_names = {"noise", "pulsar"};
  return info;
}

std::string shortest(float v) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// The encoder remembers float texts in a small per-thread table: every text must still be exactly
// std::to_chars's, for values that repeat (a forest's k / 100), values that share a table slot, and
// the extremes, in any order.
TEST(PredictionEncoder, CsvProbabilitiesAreTheShortestTextOfEachFloat) {
  std::mt19937 rng(5);
  std::vector<float> values = {0.0f,
                               -0.0f,
                               1.0f,
                               0.5f,
                               std::numeric_limits<float>::denorm_min(),
                               std::numeric_limits<float>::min(),
                               std::numeric_limits<float>::max(),
                               -1.00000005e-38f};
  std::uniform_int_distribution<int> hundredths(0, 100);
  std::uniform_int_distribution<std::uint32_t> any_bits(0, 0x7F7FFFFFu);  // finite, positive
  while (values.size() < 20000) {
    values.push_back(static_cast<float>(hundredths(rng)) / 100.0f);
    values.push_back(std::bit_cast<float>(any_bits(rng)));
  }
  const PredictionEncoder encoder(two_classes());
  const std::size_t rows = values.size() / 2;
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reads the table the first one filled
    const std::string body = encoder.encode(OutputFormat::kCsv, values, rows, {});
    std::istringstream lines(body);
    std::string line;
    std::size_t r = 0;
    while (std::getline(lines, line)) {
      ASSERT_LT(r, rows);
      const float p0 = values[2 * r];
      const float p1 = values[2 * r + 1];
      const std::string label = p1 > p0 ? "1" : "0";
      EXPECT_EQ(line, label + "," + shortest(p0) + "," + shortest(p1)) << "row " << r;
      ++r;
    }
    EXPECT_EQ(r, rows);
  }
}

}  // namespace
}  // namespace mls::server
