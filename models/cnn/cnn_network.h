#pragma once
// The fixed architecture, for square gray images of side s (NHWC throughout):
//   x [n, s, s, 1]
//   conv3x3(1 -> c1) + ReLU     [n, s, s, c1]
//   maxpool 2x2                 [n, s/2, s/2, c1]
//   conv3x3(c1 -> c2) + ReLU    [n, s/2, s/2, c2]
//   maxpool 2x2                 [n, s/4, s/4, c2]       flattened: [n, flat]
//   dense(flat -> hidden) + ReLU + dropout (training only)   [n, hidden]
//   dense(hidden -> classes) + softmax                        [n, classes]
// Parameters live in one flat float vector; CnnLayout says where each tensor starts.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "models/cnn/cnn_inference.h"
#include "models/core/status.h"

namespace mls::cnn {

struct CnnArch {
  std::size_t input_size = 28;  // side of the square gray input
  std::size_t num_classes = 2;
  std::size_t conv1_channels = 16;
  std::size_t conv2_channels = 32;
  std::size_t hidden = 64;
  float dropout = 0.5f;  // rate of the dropout after the hidden layer, in [0, 1)
};

// Errors: kInvalidArgument naming the first bad field.
Status validate(const CnnArch& arch);

// Offsets into the flat parameter vector, and the activation sizes per image.
struct CnnLayout {
  // conv weights [9 * c_in, c_out]; dense weights [in, out]; biases [out].
  std::size_t conv1_w = 0, conv1_b = 0, conv2_w = 0, conv2_b = 0;
  std::size_t fc1_w = 0, fc1_b = 0, fc2_w = 0, fc2_b = 0;
  std::size_t num_params = 0;
  std::size_t s1 = 0, s2 = 0, s3 = 0;  // sides: input, after pool 1, after pool 2
  std::size_t flat = 0;                // s3 * s3 * conv2_channels
};
CnnLayout make_layout(const CnnArch& arch);

// Every activation of one forward pass, and its gradient, for up to `capacity` images; and the
// inference pass's own, smaller buffers. Grows on demand; one per thread (the network itself is
// immutable).
struct CnnScratch {
  InferenceScratch inference;
  std::size_t capacity = 0;
  std::vector<float> col1, a1, p1, col2, a2, p2, h, mask, logits, probs;
  std::vector<std::uint32_t> arg1, arg2;
  std::vector<float> d_a1, d_p1, d_col2, d_a2, d_p2, d_h, d_logits;
};

class CnnNetwork {
 public:
  static Result<CnnNetwork> create(const CnnArch& arch);

  const CnnArch& arch() const { return arch_; }
  const CnnLayout& layout() const { return layout_; }
  std::size_t num_params() const { return layout_.num_params; }
  std::size_t num_features() const { return layout_.s1 * layout_.s1; }

  // He initialisation (uniform variant: U(-sqrt(6 / fan_in), +sqrt(6 / fan_in))), biases 0, from
  // SplitMix64(seed) in parameter order: same seed, same bits on every platform.
  std::vector<float> init_params(std::uint64_t seed) const;

  // Images per inference pass in predict. One: every image then takes exactly the same BLAS calls
  // whatever batch it came in, so its probabilities are bit-identical batched or alone (the BLAS
  // picks kernels by matrix shape, and a batch-1 dense layer is a gemv). Blocks of 4 were only
  // 1-2 % faster on the bench machine (5-7 % with AVX2-only kernels), not worth giving that up;
  // 16 and more were slower, their activations overflowing the cache (bench/RESULTS.md).
  static constexpr std::size_t kPredictBlock = 1;
  // The same with prepared weights (a served model): that pass runs its layers one image at a
  // time except the first dense layer, which shares one pass over its weights among a group of
  // images and still gives each image the same bits (sparse_dense.h); blocks of 8 give it two
  // groups of 4 and keep the activations (~40 KB per image) in cache.
  static constexpr std::size_t kPreparedBlock = 8;

  // x [n, s*s] -> probs [n, classes]; no dropout. Runs the inference-only pass (cnn_inference.h)
  // in blocks of kPredictBlock (kPreparedBlock) images; it agrees with the training forward's
  // softmax to float rounding. params [num_params]; only scratch.inference is used. prepared: see
  // inference_forward.
  void predict(std::span<const float> params, const float* x, std::size_t n, float* probs,
               CnnScratch& scratch, const InferenceWeights* prepared = nullptr) const;

  // Mean cross-entropy of the batch against labels [n] (each in [0, classes)); grad [num_params]
  // is overwritten with its gradient. With a dropout_seed, dropout is on and its mask comes from
  // that seed; without, the pass is the inference one.
  float loss_and_gradient(std::span<const float> params, const float* x, const int* labels,
                          std::size_t n, std::optional<std::uint64_t> dropout_seed,
                          std::span<float> grad, CnnScratch& scratch) const;

 private:
  CnnNetwork(const CnnArch& arch, const CnnLayout& layout) : arch_(arch), layout_(layout) {}
  void reserve(CnnScratch& s, std::size_t n) const;
  // Fills scratch up to the logits.
  void forward(const float* p, const float* x, std::size_t n,
               std::optional<std::uint64_t> dropout_seed, CnnScratch& s) const;

  CnnArch arch_;
  CnnLayout layout_;
};

}  // namespace mls::cnn
