#include "models/forest/forest_io.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/artifact/artifact_files.h"
#include "models/artifact/manifest.h"
#include "models/artifact/model_artifact.h"
#include "support/forest_compare.h"
#include "support/hand_forest.h"
#include "support/temp_dir.h"

namespace mls {
namespace {

using testing::expect_same_arrays;
using testing::forest_info;
using testing::slurp;
using testing::TempDir;

RandomForest two_tree_forest(ModelInfo info = forest_info(2)) {
  auto forest = RandomForest::create(std::move(info), testing::two_tree_arrays());
  EXPECT_TRUE(forest.ok());
  return std::move(forest).value();
}

// Both models' probabilities for a fixed set of rows, compared bit for bit.
void expect_same_predictions(const Model& a, const Model& b) {
  Matrix x;
  x.cols = 2;
  x.values = {0, -2, 1, 0, 3, 0, 0.5f, -1, 2, 5, -7, 11};
  x.rows = x.values.size() / 2;
  std::vector<float> pa(x.rows * 2), pb(x.rows * 2);
  a.predict_proba(x.view(), pa);
  b.predict_proba(x.view(), pb);
  EXPECT_EQ(std::memcmp(pa.data(), pb.data(), pa.size() * sizeof(float)), 0);
}

// The error decode_forest_weights gives; fails the test unless it fails with `code`.
std::string decode_error(std::string_view bytes, ErrorCode code, ModelInfo info = forest_info(2)) {
  auto forest = decode_forest_weights(bytes, std::move(info));
  if (forest.ok()) {
    ADD_FAILURE() << "decoded corrupt bytes";
    return {};
  }
  EXPECT_EQ(forest.error().code, code) << forest.error().message;
  return forest.error().message;
}

template <class T>
void poke(std::string& bytes, std::size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

TEST(ForestIoTest, EncodesTheDocumentedLayout) {
  const std::string bytes = encode_forest_weights(two_tree_forest());
  // 40-byte header, 2 tree starts, 8 nodes of 16 bytes, 10 leaf values.
  EXPECT_EQ(bytes.size(), 40u + 2 * 4 + 8 * 16 + 10 * 4);
  EXPECT_EQ(bytes.substr(0, 8), "MLSFORST");
  std::uint32_t version = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  EXPECT_EQ(version, 1u);
}

TEST(ForestIoTest, RoundTripKeepsArraysAndPredictions) {
  const RandomForest original = two_tree_forest();
  auto decoded = decode_forest_weights(encode_forest_weights(original), forest_info(2));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same_arrays(original.arrays(), decoded->arrays());
  expect_same_predictions(original, *decoded);
}

TEST(ForestIoTest, DecodeRejectsTruncatedBytes) {
  const std::string bytes = encode_forest_weights(two_tree_forest());
  EXPECT_EQ(decode_error("", ErrorCode::kDataLoss),
            "truncated: 0 bytes is shorter than the header");
  EXPECT_EQ(decode_error(bytes.substr(0, 39), ErrorCode::kDataLoss),
            "truncated: 39 bytes is shorter than the header");
  EXPECT_EQ(decode_error(bytes.substr(0, bytes.size() - 1), ErrorCode::kDataLoss),
            "truncated or padded: the header promises 216 bytes, the file has 215");
  EXPECT_EQ(decode_error(bytes + "x", ErrorCode::kDataLoss),
            "truncated or padded: the header promises 216 bytes, the file has 217");
}

TEST(ForestIoTest, DecodeRejectsAbsurdCountsWithoutOverflow) {
  std::string bytes = encode_forest_weights(two_tree_forest());
  poke<std::uint64_t>(bytes, 24, std::uint64_t{1} << 62);  // num_nodes
  const std::string message = decode_error(bytes, ErrorCode::kDataLoss);
  EXPECT_EQ(message.rfind("truncated or padded", 0), 0u) << message;
}

TEST(ForestIoTest, DecodeRejectsWrongMagic) {
  std::string bytes = encode_forest_weights(two_tree_forest());
  bytes[0] = 'X';
  EXPECT_EQ(decode_error(bytes, ErrorCode::kDataLoss), "not a forest weights file (bad magic)");
}

TEST(ForestIoTest, DecodeRejectsWrongVersion) {
  std::string bytes = encode_forest_weights(two_tree_forest());
  poke<std::uint32_t>(bytes, 8, 2);
  EXPECT_EQ(decode_error(bytes, ErrorCode::kUnsupported),
            "weights version 2 is not supported (this build reads version 1)");
}

TEST(ForestIoTest, DecodeRejectsClassesOrFeaturesThatDisagree) {
  const std::string bytes = encode_forest_weights(two_tree_forest());
  EXPECT_EQ(decode_error(bytes, ErrorCode::kDataLoss, forest_info(2, {0, 1, 2})),
            "classes or features disagree with manifest.json");
  EXPECT_EQ(decode_error(bytes, ErrorCode::kDataLoss, forest_info(3)),
            "classes or features disagree with manifest.json");
}

TEST(ForestIoTest, DecodeChecksEveryIndex) {
  std::string bytes = encode_forest_weights(two_tree_forest());
  // Node 0 starts after the header and the two tree starts; its `left` is at +8.
  poke<std::int32_t>(bytes, 40 + 8 + 8, 0);
  EXPECT_EQ(decode_error(bytes, ErrorCode::kDataLoss), "tree 0, node 0: child index out of range");
}

// Regression: copy_array() calls memcpy(out.data(), ..., 0) on an empty vector, so
// a header promising zero trees, nodes or leaves passes a null pointer to memcpy (undefined
// behaviour; UBSan aborts: "null pointer passed as argument 1"). Passes in Release, fails under
// the asan preset. Fixed: copy_array skips empty arrays.
TEST(ForestIoTest, DecodeRejectsAHeaderWithNoTrees) {
  std::string bytes = encode_forest_weights(two_tree_forest()).substr(0, 40);
  poke<std::uint32_t>(bytes, 20, 0);  // num_trees
  poke<std::uint64_t>(bytes, 24, 0);  // num_nodes
  poke<std::uint64_t>(bytes, 32, 0);  // num_leaf_values
  EXPECT_EQ(decode_error(bytes, ErrorCode::kDataLoss), "a forest needs trees");
}

class ModelArtifactTest : public ::testing::Test {
 protected:
  ModelArtifactTest() : dir_(tmp_.path() / "model") {
    ModelInfo info = forest_info(2);
    info.feature_names = {"mean", "std"};
    info.training_metrics_json = R"({"validation:auc":0.5})";
    info.hyperparameters_json = R"({"n_estimators":"2"})";
    forest_ = std::make_unique<RandomForest>(two_tree_forest(std::move(info)));
    auto saved = save_model(dir_, *forest_, "pulsar");
    EXPECT_TRUE(saved.ok()) << saved.error().message;
  }

  std::string load_error(ErrorCode code) {
    auto loaded = load_model(dir_);
    if (loaded.ok()) {
      ADD_FAILURE() << "loaded a broken artifact";
      return {};
    }
    EXPECT_EQ(loaded.error().code, code) << loaded.error().message;
    return loaded.error().message;
  }

  TempDir tmp_;
  std::filesystem::path dir_;
  std::unique_ptr<RandomForest> forest_;
};

TEST_F(ModelArtifactTest, SaveThenLoadRoundTrips) {
  EXPECT_TRUE(is_model_dir(dir_));
  EXPECT_TRUE(std::filesystem::is_regular_file(dir_ / "forest.bin"));
  auto loaded = load_model(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->name, "pulsar");
  const auto* forest = dynamic_cast<const RandomForest*>(loaded->model.get());
  ASSERT_NE(forest, nullptr);
  const ModelInfo& info = forest->info();
  EXPECT_EQ(info.model_type, "forest");
  EXPECT_EQ(info.input_kind, InputKind::kTabular);
  EXPECT_EQ(info.num_features, 2u);
  EXPECT_EQ(info.feature_names, (std::vector<std::string>{"mean", "std"}));
  EXPECT_EQ(info.class_labels, (std::vector<double>{0, 1}));
  EXPECT_EQ(info.class_names, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(nlohmann::json::parse(info.training_metrics_json)["validation:auc"], 0.5);
  EXPECT_EQ(nlohmann::json::parse(info.hyperparameters_json)["n_estimators"], "2");
  expect_same_arrays(forest_->arrays(), forest->arrays());
  expect_same_predictions(*forest_, *forest);
}

TEST_F(ModelArtifactTest, TruncatedWeightsNameTheFile) {
  const std::string bytes = slurp(dir_ / "forest.bin");
  tmp_.write("model/forest.bin", bytes.substr(0, bytes.size() - 4));
  const std::string message = load_error(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("forest.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST_F(ModelArtifactTest, FlippedByteFailsTheChecksum) {
  std::string bytes = slurp(dir_ / "forest.bin");
  bytes[bytes.size() / 2] ^= 0x01;
  tmp_.write("model/forest.bin", bytes);
  const std::string message = load_error(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("forest.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("SHA-256"), std::string::npos) << message;
  EXPECT_NE(message.find("corrupt"), std::string::npos) << message;
}

TEST_F(ModelArtifactTest, BadWeightsWithAMatchingChecksumNameTheFile) {
  std::string bytes = slurp(dir_ / "forest.bin");
  bytes[0] = 'X';
  tmp_.write("model/forest.bin", bytes);
  auto manifest = nlohmann::json::parse(slurp(dir_ / "manifest.json"));
  manifest["weights"]["sha256"] = sha256_hex(bytes);
  tmp_.write("model/manifest.json", manifest.dump());
  const std::string message = load_error(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("forest.bin: not a forest weights file"), std::string::npos) << message;
}

TEST_F(ModelArtifactTest, NewerFormatVersionIsUnsupported) {
  auto manifest = nlohmann::json::parse(slurp(dir_ / "manifest.json"));
  EXPECT_EQ(manifest["format"], "mls-model");
  manifest["format_version"] = 2;
  tmp_.write("model/manifest.json", manifest.dump());
  const std::string message = load_error(ErrorCode::kUnsupported);
  EXPECT_NE(message.find("manifest.json"), std::string::npos) << message;
  EXPECT_NE(message.find("format_version 2"), std::string::npos) << message;
}

TEST_F(ModelArtifactTest, MissingManifestIsNotFound) {
  std::filesystem::remove(dir_ / "manifest.json");
  EXPECT_FALSE(is_model_dir(dir_));
  const std::string message = load_error(ErrorCode::kNotFound);
  EXPECT_NE(message.find("manifest.json"), std::string::npos) << message;
}

TEST_F(ModelArtifactTest, MissingWeightsAreNotFound) {
  std::filesystem::remove(dir_ / "forest.bin");
  const std::string message = load_error(ErrorCode::kNotFound);
  EXPECT_NE(message.find("forest.bin"), std::string::npos) << message;
}

TEST_F(ModelArtifactTest, UnknownModelTypeIsUnsupported) {
  auto manifest = nlohmann::json::parse(slurp(dir_ / "manifest.json"));
  manifest["model_type"] = "gbm";
  tmp_.write("model/manifest.json", manifest.dump());
  const std::string message = load_error(ErrorCode::kUnsupported);
  EXPECT_NE(message.find("model_type 'gbm' is not supported"), std::string::npos) << message;
}

TEST_F(ModelArtifactTest, WeightsFileMustBeAPlainName) {
  auto manifest = nlohmann::json::parse(slurp(dir_ / "manifest.json"));
  manifest["weights"]["file"] = "../forest.bin";
  tmp_.write("model/manifest.json", manifest.dump());
  const std::string message = load_error(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("weights.file"), std::string::npos) << message;
}

TEST(ArtifactFilesTest, Sha256OfKnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// Many blocks and a partial last one, as an artifact has (FIPS 180-2's long test vectors).
TEST(ArtifactFilesTest, Sha256OfLongKnownVectors) {
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ArtifactFilesTest, ReadWholeFileEnforcesTheLimit) {
  TempDir tmp;
  const auto path = tmp.write("f.txt", "0123456789");
  auto ok = read_whole_file(path, 10);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "0123456789");
  auto over = read_whole_file(path, 9);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kResourceExhausted);
  auto missing = read_whole_file(tmp.path() / "nope", 10);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace mls
