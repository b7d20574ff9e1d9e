// Regression tests for what the fuzzers (tests/fuzz/) found, one per bug, each with the smallest
// input that showed it. The reproducers themselves are replayed by the fuzz-replay ctest tests.

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "models/artifact/manifest.h"
#include "models/cnn/cnn_io.h"
#include "server/codec/tabular_decoder.h"
#include "server/train/sagemaker_config.h"

namespace mls {
namespace {

std::string nested(std::size_t depth, std::string_view inner = "") {
  return std::string(depth, '[') + std::string(inner) + std::string(depth, ']');
}

// JSON request bodies: a 10 000-deep document is refused with a clear message (HTTP 400), not a
// stack overflow, in both JSON and JSON Lines. Under "instances" the shape check stops it at the
// third level; under any other key (skipped, not parsed as rows) the depth limit does.
TEST(FuzzRegressions, DeepJsonRequestIsAClean400) {
  ModelInfo model;
  model.num_features = 2;
  for (auto format : {server::InputFormat::kJson, server::InputFormat::kJsonLines}) {
    auto rows = server::decode_rows(format, "{\"instances\": " + nested(10'000) + "}", model, {});
    ASSERT_FALSE(rows.ok());
    EXPECT_EQ(rows.error().code, ErrorCode::kInvalidArgument);

    std::string objects;
    for (int i = 0; i < 10'000; ++i)
      objects += "{\"a\": ";
    objects += "1" + std::string(10'000, '}');
    for (const std::string& body :
         {"{\"meta\": " + nested(10'000) + ", \"instances\": [[1, 2]]}", objects}) {
      rows = server::decode_rows(format, body, model, {});
      ASSERT_FALSE(rows.ok());
      EXPECT_EQ(rows.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(rows.error().message.find("nested deeper than 64 levels"), std::string::npos)
          << rows.error().message;
    }
  }
  // Within the limit the same shapes still parse.
  auto ok =
      server::decode_rows(server::InputFormat::kJson,
                          "{\"meta\": " + nested(60) + ", \"instances\": [[1, 2]]}", model, {});
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mls-fuzz-regressions-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& text) {
    const auto path = dir_ / "hyperparameters.json";
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

// hyperparameters.json: a deeply nested value used to overflow the stack in json::dump() (found
// by the sagemaker_config fuzzer); now a kInvalidArgument naming the limit.
TEST_F(ConfigFile, DeepHyperparameterValueIsRefused) {
  const auto file = write("{\"n_estimators\": " + nested(100'000) + "}");
  auto hp = server::read_hyperparameters(file);
  ASSERT_FALSE(hp.ok());
  EXPECT_EQ(hp.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(hp.error().message.find("nested deeper than 64 levels"), std::string::npos)
      << hp.error().message;
  auto config = server::read_json_config(file);
  EXPECT_FALSE(config.ok());
}

TEST_F(ConfigFile, ModeratelyNestedValueIsStillRead) {
  auto hp = server::read_hyperparameters(write("{\"a\": " + nested(60, "1") + ", \"b\": \"2\"}"));
  ASSERT_TRUE(hp.ok()) << hp.error().message;
  EXPECT_EQ(server::hyperparameter_or(*hp, "a"), nested(60, "1"));
  EXPECT_EQ(server::hyperparameter_or(*hp, "b"), "2");
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// manifest.json: the same dump() recursion through training.metrics, in an otherwise valid
// manifest (tests/fuzz/regressions/manifest/); the same manifest without the nesting loads.
TEST(FuzzRegressions, DeepManifestIsDataLossNotACrash) {
  const std::string fuzz_dir = MLS_FUZZ_DIR;
  auto m =
      manifest_from_json(read_text(fuzz_dir + "/regressions/manifest/deep_training_metrics.json"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(m.error().message.find("nested deeper than 64 levels"), std::string::npos)
      << m.error().message;
  auto plain = manifest_from_json(read_text(fuzz_dir + "/corpus/manifest/forest_manifest.json"));
  EXPECT_TRUE(plain.ok()) << plain.error().message;
}

// manifest.json: an integer field holding a number no integer type can hold ("size_bytes": 2e120,
// also what a 120-digit literal parses to) was cast with undefined behaviour (UBSan, found by the
// manifest fuzzer: tests/fuzz/regressions/manifest/huge_size_bytes.json). Now kDataLoss naming it.
TEST(FuzzRegressions, OutOfRangeManifestNumbersAreDataLoss) {
  const std::string fuzz_dir = MLS_FUZZ_DIR;
  const std::string plain = read_text(fuzz_dir + "/corpus/manifest/forest_manifest.json");
  ASSERT_TRUE(manifest_from_json(plain).ok());
  const std::pair<std::string, std::string> edits[] = {
      {"\"size_bytes\": 604", "\"size_bytes\": 2222222222222222222222222222222222"},
      {"\"size_bytes\": 604", "\"size_bytes\": 6.04e2"},
      {"\"num_features\": 8", "\"num_features\": 1e300"},
      {"\"num_features\": 8", "\"num_features\": -8"},
      {"\"format_version\": 1", "\"format_version\": 4294967297"},
  };
  for (const auto& [from, to] : edits) {
    std::string text = plain;
    const std::size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    auto m = manifest_from_json(text);
    ASSERT_FALSE(m.ok()) << to;
    EXPECT_TRUE(m.error().code == ErrorCode::kDataLoss || m.error().code == ErrorCode::kUnsupported)
        << to;
    EXPECT_NE(m.error().message.find(to.substr(1, to.find('"', 1) - 1)), std::string::npos)
        << m.error().message;
  }
}

// cnn.bin: channel counts whose parameter count wraps around 2^64 to 5 used to be accepted as a
// network of 3.3 billion channels (tests/fuzz/regressions/cnn_artifact/).
TEST(FuzzRegressions, CnnParameterCountOverflowIsRefused) {
  struct Header {
    char magic[8] = {'M', 'L', 'S', 'C', 'N', 'N', '\0', '\0'};
    std::uint32_t version = 1, input_size = 4, num_classes = 2, conv1 = 3'292'223'043,
                  conv2 = 622'569'674, hidden = 1;
    float dropout = 0.5f;
    std::uint32_t reserved[7] = {};
    std::uint64_t num_params = 5;
  } h;
  static_assert(sizeof h == 72);
  std::string bytes(reinterpret_cast<const char*>(&h), sizeof h);
  const float weights[5] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
  bytes.append(reinterpret_cast<const char*>(weights), sizeof weights);

  ModelInfo info;
  info.model_type = "cnn";
  info.input_kind = InputKind::kImage;
  info.image.size = 4;
  info.num_features = 16;
  info.class_labels = {0, 1};
  info.class_names = {"0", "1"};
  auto net = decode_cnn_weights(bytes, info);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(net.error().message.find("out of range"), std::string::npos) << net.error().message;
}

}  // namespace
}  // namespace mls
