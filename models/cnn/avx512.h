#pragma once
// What the CNN's AVX-512 kernels share (conv1_direct.cc, winograd_conv.cc, sparse_dense.cc): the
// attribute that compiles one function for AVX-512F inside a baseline x86-64 build, the one-time
// CPU check that guards every call into such a function, and a float max. x86-64 only.

#if defined(__x86_64__)

#include <immintrin.h>

#define MLS_CNN_AVX512 __attribute__((target("avx512f,popcnt"))) inline

namespace mls::cnn::avx512 {

// Every CPU with AVX-512F also has POPCNT, so this one check covers the attribute above.
inline bool cpu_has_avx512f() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}

// _mm512_max_ps, spelled so that GCC 12 does not warn about the undefined vector inside it.
MLS_CNN_AVX512 __m512 max16(__m512 a, __m512 b) {
  return _mm512_maskz_max_ps(0xFFFF, a, b);
}

}  // namespace mls::cnn::avx512

#endif
