#include "models/cnn/cnn_io.h"

#include <bit>
#include <cstring>

#include "models/core/weights_header.h"

namespace mls {
namespace {

static_assert(std::endian::native == std::endian::little, "cnn.bin is little-endian");

constexpr char kMagic[8] = {'M', 'L', 'S', 'C', 'N', 'N', '\0', '\0'};
constexpr std::uint32_t kVersion = 1;
// Upper bounds on the header's layer sizes (cnn_params.cc accepts no more for training).
constexpr std::uint32_t kMaxChannels = 1024;
constexpr std::uint32_t kMaxHidden = 65'536;
constexpr std::uint32_t kMaxClasses = 1'000'000;

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t input_size;
  std::uint32_t num_classes;
  std::uint32_t conv1_channels;
  std::uint32_t conv2_channels;
  std::uint32_t hidden;
  float dropout;
  std::uint32_t reserved[7];
  std::uint64_t num_params;
};
static_assert(sizeof(Header) == 72);

}  // namespace

std::string encode_cnn_weights(const ConvNet& net) {
  const cnn::CnnArch& a = net.arch();
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.input_size = static_cast<std::uint32_t>(a.input_size);
  h.num_classes = static_cast<std::uint32_t>(a.num_classes);
  h.conv1_channels = static_cast<std::uint32_t>(a.conv1_channels);
  h.conv2_channels = static_cast<std::uint32_t>(a.conv2_channels);
  h.hidden = static_cast<std::uint32_t>(a.hidden);
  h.dropout = a.dropout;
  h.num_params = net.params().size();
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(reinterpret_cast<const char*>(net.params().data()), net.params().size_bytes());
  return out;
}

Result<ConvNet> decode_cnn_weights(std::string_view bytes, ModelInfo info) {
  auto header = read_weights_header<Header>(bytes, kMagic, kVersion, "CNN");
  if (!header) return header.error();
  const Header& h = *header;
  if (h.input_size != info.image.size) {
    return make_error(ErrorCode::kDataLoss, "input size disagrees with manifest.json");
  }
  if (h.num_params > bytes.size() / sizeof(float) || h.num_params * sizeof(float) != bytes.size()) {
    return make_error(ErrorCode::kDataLoss,
                      "truncated or padded: the header promises " + std::to_string(h.num_params) +
                          " weights, the file holds " + std::to_string(bytes.size()) +
                          " bytes after the header");
  }
  // The layer sizes bound the parameter count's products (9 * conv1 * conv2 and so on): without
  // these caps a crafted header wraps that count around 2^64 to the few weights present, and the
  // network then runs billions of channels. Same bounds as the training hyperparameters.
  if (h.conv1_channels > kMaxChannels || h.conv2_channels > kMaxChannels || h.hidden > kMaxHidden ||
      h.num_classes > kMaxClasses) {
    return make_error(
        ErrorCode::kDataLoss,
        "architecture out of range: conv1_channels " + std::to_string(h.conv1_channels) +
            ", conv2_channels " + std::to_string(h.conv2_channels) + ", hidden " +
            std::to_string(h.hidden) + ", classes " + std::to_string(h.num_classes) + " (at most " +
            std::to_string(kMaxChannels) + ", " + std::to_string(kMaxChannels) + ", " +
            std::to_string(kMaxHidden) + ", " + std::to_string(kMaxClasses) + ")");
  }
  cnn::CnnArch arch;
  arch.input_size = h.input_size;
  arch.num_classes = h.num_classes;
  arch.conv1_channels = h.conv1_channels;
  arch.conv2_channels = h.conv2_channels;
  arch.hidden = h.hidden;
  arch.dropout = h.dropout;
  std::vector<float> params(h.num_params);
  if (!params.empty()) std::memcpy(params.data(), bytes.data(), bytes.size());
  return ConvNet::create(std::move(info), arch, std::move(params));
}

}  // namespace mls
