#include "models/cnn/adam.h"

#include <cmath>
#include <utility>

namespace mls::cnn {

Adam::Adam(std::size_t num_params, const AdamParams& params)
    : params_(params), m_(num_params, 0.0f), v_(num_params, 0.0f) {}

void Adam::step(std::span<float> params, std::span<const float> grad) {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const float b1 = params_.beta1, b2 = params_.beta2;
  // Bias corrections folded into the step size and epsilon.
  const double c1 = 1.0 - std::pow(static_cast<double>(b1), t);
  const double c2 = 1.0 - std::pow(static_cast<double>(b2), t);
  const auto step_size = static_cast<float>(params_.learning_rate / c1);
  const auto inv_sqrt_c2 = static_cast<float>(1.0 / std::sqrt(c2));
  const std::size_t n = m_.size();
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grad[i];
    m_[i] = b1 * m_[i] + (1.0f - b1) * g;
    v_[i] = b2 * v_[i] + (1.0f - b2) * g * g;
    params[i] -= step_size * m_[i] / (std::sqrt(v_[i]) * inv_sqrt_c2 + params_.epsilon);
  }
}

bool Adam::restore(std::vector<float> m, std::vector<float> v, std::size_t steps) {
  if (m.size() != m_.size() || v.size() != v_.size()) return false;
  m_ = std::move(m);
  v_ = std::move(v);
  steps_ = steps;
  return true;
}

}  // namespace mls::cnn
