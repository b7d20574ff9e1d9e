#pragma once
// SplitMix64: a small, fast, well-mixed generator whose every output is fully specified (unlike the
// std distributions), so a seed gives the same model on every platform. Shared by the forest
// (bootstrap draws, feature choice) and the CNN (initial weights, dropout masks).

#include <cstdint>

namespace mls {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound).
  std::uint64_t below(std::uint64_t bound) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }
  // Uniform in [0, 1) on a grid of 2^-24: exact in float, no libm involved.
  float uniform01() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
  // Uniform in [-limit, limit).
  float uniform_symmetric(float limit) { return (2.0f * uniform01() - 1.0f) * limit; }

 private:
  std::uint64_t state_;
};

}  // namespace mls
