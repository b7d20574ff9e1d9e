#pragma once
// The CNN's layers as plain functions over NHWC float tensors (shapes in the comments).
// Every backward pass overwrites (never accumulates into) its gradient outputs.

#include <cstddef>
#include <cstdint>

namespace mls::cnn {

// A 3×3 convolution, stride 1, zero padding 1 ("same"): [n, h, w, c_in] -> [n, h, w, c_out].
// Weights are [9 * c_in, c_out], row (ky * 3 + kx) * c_in + ci; bias is [c_out].
struct ConvShape {
  std::size_t n = 0, h = 0, w = 0, c_in = 0, c_out = 0;
  std::size_t rows() const { return n * h * w; }  // output pixels
  std::size_t patch() const { return 9 * c_in; }  // im2col row width
};

// x [n, h, w, c_in] -> col [n*h*w, 9*c_in] (zeros where the patch leaves the image).
void im2col3x3(const float* x, const ConvShape& s, float* col);
// The adjoint of im2col3x3: dx [n, h, w, c_in] = sum of dcol entries that read each pixel.
void col2im3x3(const float* dcol, const ConvShape& s, float* dx);

// y [n, h, w, c_out] = im2col(x) · w + b. col [n*h*w, 9*c_in] is scratch kept for the backward
// pass. With b null, y is the bare product, for a caller that adds the bias later (fused into the
// pooling).
void conv3x3_forward(const float* x, const float* w, const float* b, const ConvShape& s, float* col,
                     float* y);
// The direct six-loop convolution, for tests only.
void conv3x3_forward_naive(const float* x, const float* w, const float* b, const ConvShape& s,
                           float* y);
// From dy [n, h, w, c_out] and the forward's col: dw [9*c_in, c_out], db [c_out], and, when dx is
// not null, dx [n, h, w, c_in] (dcol [n*h*w, 9*c_in] is scratch then).
void conv3x3_backward(const float* dy, const float* col, const float* w, const ConvShape& s,
                      float* dw, float* db, float* dcol, float* dx);

// In place: x = max(x, 0).
void relu_forward(float* x, std::size_t count);
// dy *= (y > 0), where y is the ReLU's output.
void relu_backward(const float* y, float* dy, std::size_t count);

// 2×2 max pooling, stride 2: [n, h, w, c] -> [n, h/2, w/2, c] (an odd last row/column is dropped).
struct PoolShape {
  std::size_t n = 0, h = 0, w = 0, c = 0;
  std::size_t out_h() const { return h / 2; }
  std::size_t out_w() const { return w / 2; }
  std::size_t out_size() const { return n * out_h() * out_w() * c; }
  std::size_t in_size() const { return n * h * w * c; }
};
// argmax [n, h/2, w/2, c] keeps the index into x of each maximum, for the backward pass.
void maxpool2x2_forward(const float* x, const PoolShape& s, float* y, std::uint32_t* argmax);
// dx [n, h, w, c]: dy routed to each window's maximum, zero elsewhere.
void maxpool2x2_backward(const float* dy, const std::uint32_t* argmax, const PoolShape& s,
                         float* dx);
// Inference only, for the output x of an unbiased convolution: y = max(0, bias + window maximum)
// — the same as adding the bias, relu_forward, then maxpool2x2_forward (adding a constant and the
// ReLU both commute with the max, and rounding is monotonic, so even the bits agree) — in one
// pass, without recording winners nobody will read. bias [c].
void bias_relu_maxpool2x2_forward(const float* x, const float* bias, const PoolShape& s, float* y);

// y [n, out] = x [n, in] · w [in, out] + b [out].
void dense_forward(const float* x, const float* w, const float* b, std::size_t n, std::size_t in,
                   std::size_t out, float* y);
// dw [in, out] = x^T · dy, db [out] = column sums of dy, dx [n, in] = dy · w^T (if dx not null).
void dense_backward(const float* dy, const float* x, const float* w, std::size_t n, std::size_t in,
                    std::size_t out, float* dw, float* db, float* dx);

// Inverted dropout for training: x *= mask, mask [count] = 0 with probability `rate`, else
// 1 / (1 - rate), drawn from SplitMix64(seed). Backward is dy *= mask.
void dropout_forward(float* x, std::size_t count, float rate, std::uint64_t seed, float* mask);
void dropout_backward(const float* mask, float* dy, std::size_t count);

// In place, row by row: z [n, k] -> softmax(z), each row sums to 1 (max-subtracted, stable).
void softmax_rows(float* z, std::size_t n, std::size_t k);
// Mean cross-entropy of softmax(logits [n, k]) against labels [n] in [0, k). Writes
// probs [n, k] and dlogits [n, k] = (probs - onehot) / n (dlogits may be null).
float softmax_cross_entropy(const float* logits, const int* labels, std::size_t n, std::size_t k,
                            float* probs, float* dlogits);

}  // namespace mls::cnn
