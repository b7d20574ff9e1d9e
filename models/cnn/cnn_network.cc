#include "models/cnn/cnn_network.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "models/cnn/cnn_layers.h"
#include "models/cnn/cnn_random.h"

namespace mls::cnn {
namespace {

Error bad_arch(const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "cnn architecture: " + what);
}

}  // namespace

Status validate(const CnnArch& arch) {
  if (arch.input_size < 4) return bad_arch("input_size must be at least 4");
  if (arch.input_size > 1024) return bad_arch("input_size must be at most 1024");
  if (arch.num_classes < 2) return bad_arch("num_classes must be at least 2");
  if (arch.conv1_channels == 0 || arch.conv2_channels == 0 || arch.hidden == 0) {
    return bad_arch("channel and hidden sizes must be positive");
  }
  if (!(arch.dropout >= 0.0f && arch.dropout < 1.0f)) return bad_arch("dropout must be in [0, 1)");
  return Ok{};
}

CnnLayout make_layout(const CnnArch& a) {
  CnnLayout l;
  l.s1 = a.input_size;
  l.s2 = l.s1 / 2;
  l.s3 = l.s2 / 2;
  l.flat = l.s3 * l.s3 * a.conv2_channels;
  std::size_t at = 0;
  const auto take = [&at](std::size_t count) {
    const std::size_t start = at;
    at += count;
    return start;
  };
  l.conv1_w = take(9 * 1 * a.conv1_channels);
  l.conv1_b = take(a.conv1_channels);
  l.conv2_w = take(9 * a.conv1_channels * a.conv2_channels);
  l.conv2_b = take(a.conv2_channels);
  l.fc1_w = take(l.flat * a.hidden);
  l.fc1_b = take(a.hidden);
  l.fc2_w = take(a.hidden * a.num_classes);
  l.fc2_b = take(a.num_classes);
  l.num_params = at;
  return l;
}

Result<CnnNetwork> CnnNetwork::create(const CnnArch& arch) {
  if (Status st = validate(arch); !st) return st.error();
  return CnnNetwork(arch, make_layout(arch));
}

std::vector<float> CnnNetwork::init_params(std::uint64_t seed) const {
  const CnnLayout& l = layout_;
  const CnnArch& a = arch_;
  std::vector<float> p(l.num_params, 0.0f);  // biases stay 0
  SplitMix64 rng(seed);
  const auto he = [&](std::size_t offset, std::size_t count, std::size_t fan_in) {
    const float limit = std::sqrt(6.0f / static_cast<float>(fan_in));
    for (std::size_t i = 0; i < count; ++i)
      p[offset + i] = rng.uniform_symmetric(limit);
  };
  he(l.conv1_w, 9 * a.conv1_channels, 9);
  he(l.conv2_w, 9 * a.conv1_channels * a.conv2_channels, 9 * a.conv1_channels);
  he(l.fc1_w, l.flat * a.hidden, l.flat);
  he(l.fc2_w, a.hidden * a.num_classes, a.hidden);
  return p;
}

void CnnNetwork::reserve(CnnScratch& s, std::size_t n) const {
  if (s.capacity >= n) return;
  const CnnLayout& l = layout_;
  const CnnArch& a = arch_;
  const std::size_t px1 = n * l.s1 * l.s1, px2 = n * l.s2 * l.s2, px3 = n * l.s3 * l.s3;
  s.col1.resize(px1 * 9);
  s.a1.resize(px1 * a.conv1_channels);
  s.p1.resize(px2 * a.conv1_channels);
  s.arg1.resize(px2 * a.conv1_channels);
  s.col2.resize(px2 * 9 * a.conv1_channels);
  s.a2.resize(px2 * a.conv2_channels);
  s.p2.resize(px3 * a.conv2_channels);
  s.arg2.resize(px3 * a.conv2_channels);
  s.h.resize(n * a.hidden);
  s.mask.resize(n * a.hidden);
  s.logits.resize(n * a.num_classes);
  s.probs.resize(n * a.num_classes);
  s.capacity = n;
}

void CnnNetwork::forward(const float* p, const float* x, std::size_t n,
                         std::optional<std::uint64_t> dropout_seed, CnnScratch& s) const {
  const CnnLayout& l = layout_;
  const CnnArch& a = arch_;
  reserve(s, n);
  const ConvShape c1{n, l.s1, l.s1, 1, a.conv1_channels};
  conv3x3_forward(x, p + l.conv1_w, p + l.conv1_b, c1, s.col1.data(), s.a1.data());
  relu_forward(s.a1.data(), c1.rows() * c1.c_out);
  const PoolShape q1{n, l.s1, l.s1, a.conv1_channels};
  maxpool2x2_forward(s.a1.data(), q1, s.p1.data(), s.arg1.data());

  const ConvShape c2{n, l.s2, l.s2, a.conv1_channels, a.conv2_channels};
  conv3x3_forward(s.p1.data(), p + l.conv2_w, p + l.conv2_b, c2, s.col2.data(), s.a2.data());
  relu_forward(s.a2.data(), c2.rows() * c2.c_out);
  const PoolShape q2{n, l.s2, l.s2, a.conv2_channels};
  maxpool2x2_forward(s.a2.data(), q2, s.p2.data(), s.arg2.data());

  dense_forward(s.p2.data(), p + l.fc1_w, p + l.fc1_b, n, l.flat, a.hidden, s.h.data());
  relu_forward(s.h.data(), n * a.hidden);
  if (dropout_seed && a.dropout > 0.0f) {
    dropout_forward(s.h.data(), n * a.hidden, a.dropout, *dropout_seed, s.mask.data());
  } else {
    std::fill(s.mask.begin(), s.mask.begin() + static_cast<std::ptrdiff_t>(n * a.hidden), 1.0f);
  }
  dense_forward(s.h.data(), p + l.fc2_w, p + l.fc2_b, n, a.hidden, a.num_classes, s.logits.data());
}

void CnnNetwork::predict(std::span<const float> params, const float* x, std::size_t n, float* probs,
                         CnnScratch& scratch, const InferenceWeights* prepared) const {
  const std::size_t k = arch_.num_classes, features = num_features();
  const std::size_t block = prepared != nullptr ? kPreparedBlock : kPredictBlock;
  for (std::size_t start = 0; start < n; start += block) {
    inference_forward(arch_, layout_, params.data(), x + start * features,
                      std::min(block, n - start), probs + start * k, scratch.inference, prepared);
  }
}

float CnnNetwork::loss_and_gradient(std::span<const float> params, const float* x,
                                    const int* labels, std::size_t n,
                                    std::optional<std::uint64_t> dropout_seed,
                                    std::span<float> grad, CnnScratch& s) const {
  const CnnLayout& l = layout_;
  const CnnArch& a = arch_;
  const float* p = params.data();
  float* g = grad.data();
  std::fill(grad.begin(), grad.end(), 0.0f);
  if (n == 0) return 0.0f;
  forward(p, x, n, dropout_seed, s);

  s.d_logits.resize(n * a.num_classes);
  const float loss = softmax_cross_entropy(s.logits.data(), labels, n, a.num_classes,
                                           s.probs.data(), s.d_logits.data());
  // fc2: logits = h · W2 + b2
  s.d_h.resize(n * a.hidden);
  dense_backward(s.d_logits.data(), s.h.data(), p + l.fc2_w, n, a.hidden, a.num_classes,
                 g + l.fc2_w, g + l.fc2_b, s.d_h.data());
  // dropout, then ReLU (h after dropout is 0 exactly where the ReLU or the mask zeroed it).
  dropout_backward(s.mask.data(), s.d_h.data(), n * a.hidden);
  relu_backward(s.h.data(), s.d_h.data(), n * a.hidden);
  // fc1: h = p2 · W1 + b1
  s.d_p2.resize(n * l.flat);
  dense_backward(s.d_h.data(), s.p2.data(), p + l.fc1_w, n, l.flat, a.hidden, g + l.fc1_w,
                 g + l.fc1_b, s.d_p2.data());
  // pool 2, ReLU 2, conv 2
  const PoolShape q2{n, l.s2, l.s2, a.conv2_channels};
  s.d_a2.resize(q2.in_size());
  maxpool2x2_backward(s.d_p2.data(), s.arg2.data(), q2, s.d_a2.data());
  relu_backward(s.a2.data(), s.d_a2.data(), q2.in_size());
  const ConvShape c2{n, l.s2, l.s2, a.conv1_channels, a.conv2_channels};
  s.d_col2.resize(c2.rows() * c2.patch());
  s.d_p1.resize(c2.rows() * c2.c_in);
  conv3x3_backward(s.d_a2.data(), s.col2.data(), p + l.conv2_w, c2, g + l.conv2_w, g + l.conv2_b,
                   s.d_col2.data(), s.d_p1.data());
  // pool 1, ReLU 1, conv 1 (no input gradient needed)
  const PoolShape q1{n, l.s1, l.s1, a.conv1_channels};
  s.d_a1.resize(q1.in_size());
  maxpool2x2_backward(s.d_p1.data(), s.arg1.data(), q1, s.d_a1.data());
  relu_backward(s.a1.data(), s.d_a1.data(), q1.in_size());
  const ConvShape c1{n, l.s1, l.s1, 1, a.conv1_channels};
  conv3x3_backward(s.d_a1.data(), s.col1.data(), p + l.conv1_w, c1, g + l.conv1_w, g + l.conv1_b,
                   nullptr, nullptr);
  return loss;
}

}  // namespace mls::cnn
