#include "models/cnn/cnn_gemm.h"

#include <cblas.h>

namespace mls::cnn {
namespace {

// The server parallelises across requests; OpenBLAS's own thread pool would only compete.
bool force_one_thread() {
  openblas_set_num_threads(1);
  return true;
}

}  // namespace

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
          std::size_t ldc) {
  static const bool one_thread = force_one_thread();  // thread-safe once (magic static)
  (void)one_thread;
  if (m == 0 || n == 0) return;
  const auto im = static_cast<int>(m);
  const auto in = static_cast<int>(n);
  const auto ik = static_cast<int>(k);
  if (m == 1 && !trans_a) {
    // A row vector times op(B): sgemv is several times faster than sgemm here (GEMM_CHOICE.md).
    // c[n] = op(B)^T... expressed on B as stored: B is [k, n] (no trans) or [n, k] (trans).
    if (!trans_b) {
      cblas_sgemv(CblasRowMajor, CblasTrans, ik, in, alpha, b, static_cast<int>(ldb), a, 1, beta, c,
                  1);
    } else {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, in, ik, alpha, b, static_cast<int>(ldb), a, 1, beta,
                  c, 1);
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, im, in, ik, alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

}  // namespace mls::cnn
