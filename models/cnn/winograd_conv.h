#pragma once
// The inference pass's second block (3x3 convolution, bias, ReLU, 2x2 max pool) by Winograd's
// minimal filtering F(2x2, 3x3): each 2x2 output tile — exactly one pooling window — comes from a
// 4x4 input tile with 16 multiplications per channel pair instead of 36, the 16 products being 16
// small matrix products over the image's tiles (with AVX-512 or AVX2, our own loops over blocks of
// 10 to 14 tiles, which beat OpenBLAS at these sizes and keep a block in L1; OpenBLAS over the
// whole image on other CPUs). 2.25x fewer
// multiply-adds than im2col + GEMM, and no im2col buffer (bench/README.md, "CNN"). Rounding
// differs from the direct sum by about 1e-6 relative; the training pass keeps the direct form.

#include <cstddef>
#include <vector>

namespace mls::cnn {

// The 16 transformed filters U = G g G^T as [16, c_in, c_out], from conv weights w [9 * c_in,
// c_out] (row (ky * 3 + kx) * c_in + ci). Computed once per model.
std::vector<float> winograd_filters(const float* w, std::size_t c_in, std::size_t c_out);

// Floats of scratch winograd_conv_bias_relu_pool needs for one image of side x side.
std::size_t winograd_scratch_floats(std::size_t side, std::size_t c_in, std::size_t c_out);

// One image: x [side, side, c_in] -> y [side/2, side/2, c_out] = max(0, max over each 2x2 window
// of conv3x3(x, w) + bias), zero padding; u from winograd_filters. Each image makes the same
// calls whatever batch it came in.
void winograd_conv_bias_relu_pool(const float* x, const float* u, const float* bias,
                                  std::size_t side, std::size_t c_in, std::size_t c_out,
                                  float* scratch, float* y);

}  // namespace mls::cnn
