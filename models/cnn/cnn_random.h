#pragma once
// The CNN's random numbers: SplitMix64 (as in models/forest/tree_builder.h) with fully specified
// conversions to floats, so a seed gives the same weights and dropout masks on every platform.

#include <cstdint>

namespace mls::cnn {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) on a grid of 2^-24: exact in float, no libm involved.
  float uniform01() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
  // Uniform in [-limit, limit).
  float uniform_symmetric(float limit) { return (2.0f * uniform01() - 1.0f) * limit; }

 private:
  std::uint64_t state_;
};

}  // namespace mls::cnn
