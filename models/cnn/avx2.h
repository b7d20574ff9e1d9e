#pragma once
// What the CNN's AVX2 kernels share (conv1_direct.cc, winograd_conv.cc, sparse_dense.cc): the
// attribute that compiles one function for AVX2 + FMA inside a baseline x86-64 build, and the
// one-time CPU check that guards every call into such a function. They are the fallback for CPUs
// without AVX-512F (avx512.h), which keep the AVX-512 kernels wherever they can run. x86-64 only.

#if defined(__x86_64__)

#include <immintrin.h>

#define MLS_CNN_AVX2 __attribute__((target("avx2,fma"))) inline

namespace mls::cnn::avx2 {

// True only where the AVX-512 kernels cannot run, so that a CPU never mixes the two families.
inline bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          !__builtin_cpu_supports("avx512f");
  return has;
}

}  // namespace mls::cnn::avx2

#endif
