#pragma once
// The inference-only forward pass: the same network as CnnNetwork's training forward, minus what
// only the backward pass needs (each layer's im2col, pooling winners, dropout masks), with each
// convolution's bias and ReLU fused into its pooling. Its buffer is reused from call to call and
// never cleared: every entry is written before it is read.

#include <cstddef>
#include <vector>

namespace mls::cnn {

struct CnnArch;
struct CnnLayout;

// The activations of one block of images; grows to the largest block seen, never shrinks.
struct InferenceScratch {
  std::vector<float> buffer;
};

// What a served model computes once from its parameters so that each image costs less: conv2's
// Winograd filters (winograd_conv.h).
struct InferenceWeights {
  std::vector<float> conv2_winograd;  // [16, conv1_channels, conv2_channels]
};
InferenceWeights prepare_inference(const CnnArch& arch, const CnnLayout& layout,
                                   const float* params);

// probs [n, classes] = softmax of the network on x [n, side*side], all n in one pass (callers keep
// n small enough for the activations to stay in cache). params [layout.num_params]. With prepared
// (from the same params), conv2 runs as Winograd F(2x2, 3x3) and fc1 over groups of images
// (sparse_dense.h, one image at a time through OpenBLAS without AVX-512 or AVX2); without, both
// run as in the training pass. Either way the first block is the direct loop of conv1_direct.h
// where the CPU has it.
void inference_forward(const CnnArch& arch, const CnnLayout& layout, const float* params,
                       const float* x, std::size_t n, float* probs, InferenceScratch& scratch,
                       const InferenceWeights* prepared = nullptr);

}  // namespace mls::cnn
