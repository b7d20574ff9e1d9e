#pragma once
// Row-major float matrices: the only data that crosses from decoders into models.

#include <cstddef>
#include <span>
#include <vector>

namespace mls {

// A non-owning view of a row-major [rows, cols] block of floats.
struct MatrixView {
  const float* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;

  const float* row(std::size_t r) const { return data + r * cols; }
};

// An owning row-major [rows, cols] matrix. Decoders append rows straight into `values`.
struct Matrix {
  std::vector<float> values;
  std::size_t rows = 0;
  std::size_t cols = 0;

  MatrixView view() const { return {values.data(), rows, cols}; }
  float* row(std::size_t r) { return values.data() + r * cols; }
  const float* row(std::size_t r) const { return values.data() + r * cols; }
  float& at(std::size_t r, std::size_t c) { return values[r * cols + c]; }
  float at(std::size_t r, std::size_t c) const { return values[r * cols + c]; }
};

}  // namespace mls
