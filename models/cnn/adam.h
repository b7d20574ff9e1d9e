#pragma once
// Adam (Kingma & Ba, 2015) over one flat parameter vector, with bias correction.

#include <cstddef>
#include <span>
#include <vector>

namespace mls::cnn {

struct AdamParams {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
};

class Adam {
 public:
  Adam(std::size_t num_params, const AdamParams& params);

  // params -= lr * m_hat / (sqrt(v_hat) + eps), after folding grad into the moments.
  void step(std::span<float> params, std::span<const float> grad);

  const AdamParams& params() const { return params_; }
  void set_learning_rate(float lr) { params_.learning_rate = lr; }
  // The whole state, for checkpoints: restore with restore(m, v, steps).
  std::size_t steps() const { return steps_; }
  const std::vector<float>& first_moment() const { return m_; }
  const std::vector<float>& second_moment() const { return v_; }
  // Returns false (and changes nothing) when the sizes do not match.
  bool restore(std::vector<float> m, std::vector<float> v, std::size_t steps);

 private:
  AdamParams params_;
  std::vector<float> m_, v_;
  std::size_t steps_ = 0;
};

}  // namespace mls::cnn
