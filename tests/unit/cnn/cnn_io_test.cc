#include "models/cnn/cnn_io.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cnn/cnn_test_util.h"
#include "models/artifact/model_artifact.h"
#include "support/temp_dir.h"

namespace mls {
namespace {

using cnn::testing::random_vector;
using testing::slurp;
using testing::TempDir;

ConvNet small_net() {
  cnn::CnnArch arch;
  arch.input_size = 12;
  arch.num_classes = 2;
  arch.conv1_channels = 4;
  arch.conv2_channels = 6;
  arch.hidden = 8;
  ModelInfo info;
  info.model_type = "cnn";
  info.input_kind = InputKind::kImage;
  info.image = {12, 0.25f, 0.5f};
  info.num_features = 144;
  info.class_labels = {0, 1};
  info.class_names = {"normal", "pneumonia"};
  auto net = cnn::CnnNetwork::create(arch);
  auto model = ConvNet::create(info, arch, net->init_params(5));
  EXPECT_TRUE(model.ok());
  return std::move(model).value();
}

TEST(CnnIo, SavedModelLoadsBackBitIdentical) {
  TempDir dir;
  const ConvNet net = small_net();
  ASSERT_TRUE(save_model(dir.path() / "xray", net, "xray").ok());
  auto loaded = load_model(dir.path() / "xray");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->name, "xray");
  const auto* back = dynamic_cast<const ConvNet*>(loaded->model.get());
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->info().image.size, 12u);
  EXPECT_FLOAT_EQ(back->info().image.mean, 0.25f);
  EXPECT_FLOAT_EQ(back->info().image.std, 0.5f);
  EXPECT_EQ(back->info().class_names, net.info().class_names);
  ASSERT_EQ(back->params().size(), net.params().size());
  EXPECT_EQ(std::memcmp(back->params().data(), net.params().data(), net.params().size_bytes()), 0);

  const auto x = random_vector(3 * 144, 9);
  std::vector<float> a(6), b(6);
  net.predict_proba(MatrixView{x.data(), 3, 144}, a);
  back->predict_proba(MatrixView{x.data(), 3, 144}, b);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST(CnnIo, TruncatedOrWrongWeightsAreRefusedWithAReason) {
  const ConvNet net = small_net();
  const std::string bytes = encode_cnn_weights(net);
  auto cut = decode_cnn_weights(bytes.substr(0, bytes.size() - 4), net.info());
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(cut.error().message.find("truncated"), std::string::npos);

  auto header_only = decode_cnn_weights(bytes.substr(0, 10), net.info());
  ASSERT_FALSE(header_only.ok());
  EXPECT_NE(header_only.error().message.find("shorter than the header"), std::string::npos);

  std::string magic = bytes;
  magic[0] = 'X';
  EXPECT_NE(decode_cnn_weights(magic, net.info()).error().message.find("bad magic"),
            std::string::npos);

  std::string version = bytes;
  version[8] = 9;
  EXPECT_EQ(decode_cnn_weights(version, net.info()).error().code, ErrorCode::kUnsupported);

  std::string nan = bytes;
  const float bad = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan.data() + nan.size() - 4, &bad, 4);
  EXPECT_NE(decode_cnn_weights(nan, net.info()).error().message.find("not finite"),
            std::string::npos);

  ModelInfo other = net.info();
  other.image.size = 28;
  other.num_features = 784;
  EXPECT_EQ(decode_cnn_weights(bytes, other).error().code, ErrorCode::kDataLoss);
}

TEST(CnnIo, AlteredWeightsFileFailsTheChecksum) {
  TempDir dir;
  ASSERT_TRUE(save_model(dir.path(), small_net(), "").ok());
  std::string bytes = slurp(dir.path() / "cnn.bin");
  bytes[100] ^= 1;
  std::ofstream(dir.path() / "cnn.bin", std::ios::binary) << bytes;
  auto loaded = load_model(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("SHA-256"), std::string::npos);
}

}  // namespace
}  // namespace mls
