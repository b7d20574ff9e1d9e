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

// probs [n, classes] = softmax of the network on x [n, side*side], all n in one pass (callers keep
// n small enough for the activations to stay in cache). params [layout.num_params].
void inference_forward(const CnnArch& arch, const CnnLayout& layout, const float* params,
                       const float* x, std::size_t n, float* probs, InferenceScratch& scratch);

}  // namespace mls::cnn
