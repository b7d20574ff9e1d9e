// Probe for the next CNN step (bench/README.md, "CNN, batch 1"): the first convolution (28x28, one
// input channel, 16 output channels, 3x3, zero padding) as im2col + OpenBLAS sgemm, as the model
// runs it today, against a direct convolution that keeps the 16 outputs of a pixel in one AVX-512
// register (9 broadcast-FMAs per pixel, no im2col). Not part of the build:
//   g++ -O3 -std=c++20 -I/usr/include/x86_64-linux-gnu/openblas-pthread
//       bench/tools/conv1_direct_probe.cc -o /tmp/conv1_direct_probe -lopenblas   (one line)
//   OPENBLAS_NUM_THREADS=1 /tmp/conv1_direct_probe
// Prints the median time of each per image and their largest difference.
#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kH = 28, kW = 28, kC = 16;

void im2col_one_channel(const float* x, float* col) {
  for (int oy = 0; oy < kH; ++oy) {
    for (int ox = 0; ox < kW; ++ox) {
      float* patch = col + (oy * kW + ox) * 9;
      for (int ky = 0; ky < 3; ++ky) {
        for (int kx = 0; kx < 3; ++kx) {
          const int iy = oy + ky - 1, ix = ox + kx - 1;
          const bool pad = iy < 0 || ix < 0 || iy >= kH || ix >= kW;
          patch[ky * 3 + kx] = pad ? 0.0f : x[iy * kW + ix];
        }
      }
    }
  }
}

__attribute__((target("avx512f,fma"))) void direct(const float* x, const float* w, float* y) {
  __m512 taps[9];
  for (int k = 0; k < 9; ++k)
    taps[k] = _mm512_loadu_ps(w + k * kC);
  for (int oy = 0; oy < kH; ++oy) {
    for (int ox = 0; ox < kW; ++ox) {
      __m512 acc = _mm512_setzero_ps();
      for (int ky = 0; ky < 3; ++ky) {
        const int iy = oy + ky - 1;
        if (iy < 0 || iy >= kH) continue;
        for (int kx = 0; kx < 3; ++kx) {
          const int ix = ox + kx - 1;
          if (ix < 0 || ix >= kW) continue;
          acc = _mm512_fmadd_ps(_mm512_set1_ps(x[iy * kW + ix]), taps[ky * 3 + kx], acc);
        }
      }
      _mm512_storeu_ps(y + (oy * kW + ox) * kC, acc);
    }
  }
}

template <class Fn>
double median_us(Fn&& fn) {
  std::vector<double> rounds;
  for (int r = 0; r < 7; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < 20000; ++i)
      fn();
    rounds.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() /
                     20000);
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds[rounds.size() / 2];
}

}  // namespace

int main() {
  std::vector<float> x(kH * kW), w(9 * kC), col(kH * kW * 9), y_gemm(kH * kW * kC),
      y_direct(kH * kW * kC);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(i % 13) * 0.1f;
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<float>(i % 7) * 0.05f - 0.1f;
  const double gemm_us = median_us([&] {
    im2col_one_channel(x.data(), col.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kH * kW, kC, 9, 1.0f, col.data(), 9,
                w.data(), kC, 0.0f, y_gemm.data(), kC);
  });
  const double direct_us = median_us([&] { direct(x.data(), w.data(), y_direct.data()); });
  double diff = 0;
  for (std::size_t i = 0; i < y_gemm.size(); ++i)
    diff = std::max(diff, static_cast<double>(std::fabs(y_gemm[i] - y_direct[i])));
  std::printf("conv1 per image: im2col + sgemm %.2f us, direct %.2f us, largest difference %.2g\n",
              gemm_us, direct_us, diff);
}
