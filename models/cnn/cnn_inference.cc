#include "models/cnn/cnn_inference.h"

#include <algorithm>

#include "models/cnn/cnn_layers.h"
#include "models/cnn/cnn_network.h"
#include "models/cnn/conv1_direct.h"
#include "models/cnn/sparse_dense.h"
#include "models/cnn/winograd_conv.h"

namespace mls::cnn {
namespace {

// Floats per image of each activation.
struct Sizes {
  std::size_t col, a1, p1, a2, p2, h;
  std::size_t total() const { return col + a1 + p1 + a2 + p2 + h; }
};

Sizes per_image(const CnnArch& a, const CnnLayout& l) {
  const std::size_t px1 = l.s1 * l.s1, px2 = l.s2 * l.s2, px3 = l.s3 * l.s3;
  Sizes s{};
  // One im2col buffer serves both convolutions: conv1's is dead once its GEMM has run.
  s.col = std::max(px1 * 9, px2 * 9 * a.conv1_channels);
  s.a1 = px1 * a.conv1_channels;
  s.p1 = px2 * a.conv1_channels;
  s.a2 = px2 * a.conv2_channels;
  s.p2 = px3 * a.conv2_channels;
  s.h = a.hidden;
  return s;
}

}  // namespace

InferenceWeights prepare_inference(const CnnArch& a, const CnnLayout& l, const float* p) {
  InferenceWeights w;
  w.conv2_winograd = winograd_filters(p + l.conv2_w, a.conv1_channels, a.conv2_channels);
  return w;
}

namespace {

// The served pass: every step but the first dense layer runs one image at a time, making the
// same calls whatever n is; the dense layer groups images with identical per-image sums
// (sparse_dense.h). So an image's probabilities are the same bits in any batch.
void prepared_forward(const CnnArch& a, const CnnLayout& l, const float* p, const float* x,
                      std::size_t n, float* probs, InferenceScratch& s,
                      const InferenceWeights& prepared) {
  const Sizes per = per_image(a, l);
  const std::size_t wino = winograd_scratch_floats(l.s2, a.conv1_channels, a.conv2_channels);
  const bool direct1 = conv1_direct_available(a.conv1_channels);
  // conv1's im2col and activation only where the direct loop cannot run, and for one image.
  const std::size_t one = direct1 ? 0 : per.a1 + l.s1 * l.s1 * 9;
  const std::size_t total = one + n * (per.p1 + per.p2 + per.h) + wino;
  if (s.buffer.size() < total) s.buffer.resize(total);
  float* col = s.buffer.data();
  float* a1 = col + (direct1 ? 0 : l.s1 * l.s1 * 9);
  float* p1 = col + one;
  float* p2 = p1 + n * per.p1;
  float* h = p2 + n * per.p2;
  float* wino_scratch = h + n * per.h;

  const std::size_t side2 = l.s1 * l.s1;
  for (std::size_t img = 0; img < n; ++img) {
    float* p1i = p1 + img * per.p1;
    if (direct1) {
      conv1_bias_relu_pool(x + img * side2, p + l.conv1_w, p + l.conv1_b, 1, l.s1, a.conv1_channels,
                           p1i);
    } else {
      conv3x3_forward(x + img * side2, p + l.conv1_w, nullptr,
                      ConvShape{1, l.s1, l.s1, 1, a.conv1_channels}, col, a1);
      bias_relu_maxpool2x2_forward(a1, p + l.conv1_b, PoolShape{1, l.s1, l.s1, a.conv1_channels},
                                   p1i);
    }
    winograd_conv_bias_relu_pool(p1i, prepared.conv2_winograd.data(), p + l.conv2_b, l.s2,
                                 a.conv1_channels, a.conv2_channels, wino_scratch,
                                 p2 + img * per.p2);
  }
  if (dense_grouped_available(l.flat, a.hidden)) {
    dense_grouped(p2, p + l.fc1_w, p + l.fc1_b, n, l.flat, a.hidden, h);
  } else {
    for (std::size_t img = 0; img < n; ++img) {
      dense_forward(p2 + img * per.p2, p + l.fc1_w, p + l.fc1_b, 1, l.flat, a.hidden,
                    h + img * per.h);
    }
  }
  relu_forward(h, n * a.hidden);
  for (std::size_t img = 0; img < n; ++img) {
    dense_forward(h + img * per.h, p + l.fc2_w, p + l.fc2_b, 1, a.hidden, a.num_classes,
                  probs + img * a.num_classes);
  }
  softmax_rows(probs, n, a.num_classes);
}

}  // namespace

void inference_forward(const CnnArch& a, const CnnLayout& l, const float* p, const float* x,
                       std::size_t n, float* probs, InferenceScratch& s,
                       const InferenceWeights* prepared) {
  if (n == 0) return;
  if (prepared != nullptr) return prepared_forward(a, l, p, x, n, probs, s, *prepared);
  const Sizes per = per_image(a, l);
  // Grows only: resize's zero-filling then happens once per thread, not once per call.
  if (s.buffer.size() < n * per.total()) s.buffer.resize(n * per.total());
  float* col = s.buffer.data();
  float* a1 = col + n * per.col;
  float* p1 = a1 + n * per.a1;
  float* a2 = p1 + n * per.p1;
  float* p2 = a2 + n * per.a2;
  float* h = p2 + n * per.p2;

  const ConvShape c1{n, l.s1, l.s1, 1, a.conv1_channels};
  const ConvShape c2{n, l.s2, l.s2, a.conv1_channels, a.conv2_channels};
  const PoolShape q1{n, l.s1, l.s1, a.conv1_channels};
  const PoolShape q2{n, l.s2, l.s2, a.conv2_channels};
  // The convolutions' biases are added after pooling, to the quarter of the values that survive.
  if (conv1_direct_available(a.conv1_channels)) {
    conv1_bias_relu_pool(x, p + l.conv1_w, p + l.conv1_b, n, l.s1, a.conv1_channels, p1);
  } else {
    conv3x3_forward(x, p + l.conv1_w, nullptr, c1, col, a1);
    bias_relu_maxpool2x2_forward(a1, p + l.conv1_b, q1, p1);
  }
  conv3x3_forward(p1, p + l.conv2_w, nullptr, c2, col, a2);
  bias_relu_maxpool2x2_forward(a2, p + l.conv2_b, q2, p2);
  dense_forward(p2, p + l.fc1_w, p + l.fc1_b, n, l.flat, a.hidden, h);
  relu_forward(h, n * a.hidden);
  dense_forward(h, p + l.fc2_w, p + l.fc2_b, n, a.hidden, a.num_classes, probs);
  softmax_rows(probs, n, a.num_classes);
}

}  // namespace mls::cnn
