#pragma once
// The inference pass's first block (3x3 convolution of the one gray channel, bias, ReLU, 2x2 max
// pool) as one direct loop: a GEMM with K = 9 wastes most of each kernel call, and its im2col
// buffer and the full-size activation never need to exist (bench/README.md, "CNN, batch 1").

#include <cstddef>

namespace mls::cnn {

// Whether conv1_bias_relu_pool can run here with c_out output channels (AVX-512 and c_out a
// multiple of 16, or AVX2 + FMA and a multiple of 8); callers fall back to conv3x3_forward +
// bias_relu_maxpool2x2_forward otherwise.
bool conv1_direct_available(std::size_t c_out);

// x [n, side, side] -> y [n, side/2, side/2, c_out]: y = max(0, max over each 2x2 window of
// conv(x, w) + bias), zero padding, w [9, c_out]. Per image, so batch size never changes a value.
void conv1_bias_relu_pool(const float* x, const float* w, const float* bias, std::size_t n,
                          std::size_t side, std::size_t c_out, float* y);

}  // namespace mls::cnn
