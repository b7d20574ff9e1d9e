#pragma once
// The inference pass's first dense layer, for a few images at once: one pass over the weights
// serves every image of the group (the weights, 400 KB for the served network, are what the layer
// waits on), and input pairs that are zero in every image of the group are skipped (the input
// comes out of a ReLU and a max pool, so a trained network has many).
//
// Every output is the bias plus two running sums — one over the even inputs, one over the odd,
// each in index order — added at the end. A skipped product is an exact zero, so an image gets
// the same bits whatever group it is computed in: batching never changes an answer.

#include <cstddef>

namespace mls::cnn {

// Whether dense_grouped can run here: in even, and AVX-512 with out a multiple of 16 or AVX2 +
// FMA with out a multiple of 8.
bool dense_grouped_available(std::size_t in, std::size_t out);

// y [n, out] = x [n, in] · w [in, out] + b [out], w row-major [in, out].
void dense_grouped(const float* x, const float* w, const float* b, std::size_t n, std::size_t in,
                   std::size_t out, float* y);

}  // namespace mls::cnn
