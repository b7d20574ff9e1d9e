#pragma once
// The one door to the BLAS (OpenBLAS, see GEMM_CHOICE.md). Row-major, single-threaded.

#include <cstddef>

namespace mls::cnn {

// C[m, n] = alpha * op(A) * op(B) + beta * C, row-major; op(A) is [m, k], op(B) is [k, n].
// lda/ldb/ldc are the row strides of A, B, C as stored (before the transpose).
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
          std::size_t ldc);

}  // namespace mls::cnn
