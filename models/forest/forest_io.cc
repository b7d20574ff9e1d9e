#include "models/forest/forest_io.h"

#include <bit>
#include <cstring>

#include "models/core/weights_header.h"

namespace mls {
namespace {

static_assert(std::endian::native == std::endian::little, "forest.bin is little-endian");

constexpr char kMagic[8] = {'M', 'L', 'S', 'F', 'O', 'R', 'S', 'T'};
constexpr std::uint32_t kVersion = 1;

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t num_classes;
  std::uint32_t num_features;
  std::uint32_t num_trees;
  std::uint64_t num_nodes;
  std::uint64_t num_leaf_values;
};
static_assert(sizeof(Header) == 40);
static_assert(sizeof(ForestNode) == 16);

template <class T>
void append(std::string& out, const T* data, std::size_t count) {
  out.append(reinterpret_cast<const char*>(data), count * sizeof(T));
}

template <class T>
void copy_array(std::string_view& bytes, std::vector<T>& out, std::size_t count) {
  out.resize(count);
  if (count == 0) return;  // memcpy from/to a null pointer is undefined even for 0 bytes
  std::memcpy(out.data(), bytes.data(), count * sizeof(T));
  bytes.remove_prefix(count * sizeof(T));
}

}  // namespace

std::string encode_forest_weights(const RandomForest& forest) {
  const ForestArrays& a = forest.arrays();
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.num_classes = static_cast<std::uint32_t>(forest.num_classes());
  h.num_features = static_cast<std::uint32_t>(forest.num_features());
  h.num_trees = static_cast<std::uint32_t>(a.tree_starts.size());
  h.num_nodes = a.nodes.size();
  h.num_leaf_values = a.leaf_values.size();
  std::string out;
  append(out, &h, 1);
  append(out, a.tree_starts.data(), a.tree_starts.size());
  append(out, a.nodes.data(), a.nodes.size());
  append(out, a.leaf_values.data(), a.leaf_values.size());
  return out;
}

Result<RandomForest> decode_forest_weights(std::string_view bytes, ModelInfo info) {
  auto header = read_weights_header<Header>(bytes, kMagic, kVersion, "forest");
  if (!header) return header.error();
  const Header& h = *header;
  if (h.num_classes != info.class_labels.size() || h.num_features != info.num_features) {
    return make_error(ErrorCode::kDataLoss, "classes or features disagree with manifest.json");
  }
  // Compare in 128 bits so absurd counts cannot overflow the size check.
  const unsigned __int128 expected =
      static_cast<unsigned __int128>(h.num_trees) * 4 +
      static_cast<unsigned __int128>(h.num_nodes) * sizeof(ForestNode) +
      static_cast<unsigned __int128>(h.num_leaf_values) * 4;
  if (expected != bytes.size()) {
    return make_error(ErrorCode::kDataLoss,
                      "truncated or padded: the header promises " +
                          std::to_string(static_cast<std::uint64_t>(expected + sizeof h)) +
                          " bytes, the file has " + std::to_string(bytes.size() + sizeof h));
  }
  ForestArrays arrays;
  copy_array(bytes, arrays.tree_starts, h.num_trees);
  copy_array(bytes, arrays.nodes, h.num_nodes);
  copy_array(bytes, arrays.leaf_values, h.num_leaf_values);
  return RandomForest::create(std::move(info), std::move(arrays));
}

}  // namespace mls
