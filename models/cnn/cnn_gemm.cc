#include "models/cnn/cnn_gemm.h"

#include <cblas.h>

#include <cstdlib>

namespace mls::cnn {
namespace {

// OpenBLAS reads its settings from the environment once, in a constructor that runs when the
// program loads; this one runs before it (a prioritised constructor in the same executable; with
// OpenBLAS linked as a shared library, its constructor runs first and this changes nothing).
//
// Threads: OpenBLAS starts a worker per extra core at load, and an idle worker spins on
// sched_yield for its first ~0.1 s before it sleeps. We only ever run it on one thread
// (force_one_thread below), so the worker did nothing but take a core: ~90 ms of CPU in `mls
// serve`'s first two seconds, beside the model loading and the first requests.
// OPENBLAS_NUM_THREADS=1 at load starts no worker.
//
// Kernels: OpenBLAS 0.3.21 (Debian 12's) picks them by CPU model number, and a model newer than it
// knows (an Emerald Rapids Xeon, family 6 model 207) gets the generic "Prescott" kernels: the CNN
// ran at a third of its speed there (19.4 k against ~60 k images/s at batch 256). Its documented
// OPENBLAS_CORETYPE says which kernels to use; for an Intel CPU this names the ones its
// instruction sets call for — what OpenBLAS itself picks for the models it knows. A user's own
// OPENBLAS_CORETYPE wins; other vendors are left to OpenBLAS.
__attribute__((constructor(200))) void configure_openblas_before_it_loads() {
  setenv("OPENBLAS_NUM_THREADS", "1", 1);
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  __builtin_cpu_init();  // constructors this early run before libgcc's own CPU detection
  if (!__builtin_cpu_is("intel")) return;
  const char* core = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl")) {
    core = "SkylakeX";  // (its sgemm kernels are Cooper Lake's and Sapphire Rapids' too)
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    core = "Haswell";
  }
  if (core != nullptr) setenv("OPENBLAS_CORETYPE", core, 0);
}

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
