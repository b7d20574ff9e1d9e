#include "models/eval/classification_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace mls {

double roc_auc(std::span<const int> is_positive, std::span<const float> scores) {
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0;
  std::size_t positives = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]])
      ++j;
    const double average_rank = (static_cast<double>(i) + static_cast<double>(j) + 1.0) / 2.0;
    for (std::size_t k = i; k < j; ++k) {
      if (is_positive[order[k]]) {
        positive_rank_sum += average_rank;
        ++positives;
      }
    }
    i = j;
  }
  const std::size_t negatives = n - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

namespace {

double f1_of_class(std::span<const int> labels, std::span<const int> predicted, int c) {
  std::size_t tp = 0, fp = 0, fn = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    tp += labels[i] == c && predicted[i] == c;
    fp += labels[i] != c && predicted[i] == c;
    fn += labels[i] == c && predicted[i] != c;
  }
  if (tp == 0) return 0;
  return 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
}

}  // namespace

ClassificationScores score_classifier(std::span<const int> labels, std::span<const float> proba,
                                      std::size_t num_classes) {
  ClassificationScores s;
  const std::size_t n = labels.size();
  if (n == 0 || num_classes == 0) return s;
  std::vector<int> predicted(n);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = proba.data() + i * num_classes;
    predicted[i] = static_cast<int>(std::max_element(row, row + num_classes) - row);
    correct += predicted[i] == labels[i];
    const double p = std::clamp(static_cast<double>(row[labels[i]]), 1e-15, 1.0);
    s.log_loss -= std::log(p);
  }
  s.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  s.log_loss /= static_cast<double>(n);

  const std::size_t first = num_classes == 2 ? 1 : 0;
  std::vector<int> positive(n);
  std::vector<float> score(n);
  double auc_sum = 0, f1_sum = 0;
  for (std::size_t c = first; c < num_classes; ++c) {
    for (std::size_t i = 0; i < n; ++i) {
      positive[i] = labels[i] == static_cast<int>(c);
      score[i] = proba[i * num_classes + c];
    }
    auc_sum += roc_auc(positive, score);
    f1_sum += f1_of_class(labels, predicted, static_cast<int>(c));
  }
  const double classes_scored = static_cast<double>(num_classes - first);
  s.auc = auc_sum / classes_scored;
  s.f1 = f1_sum / classes_scored;
  return s;
}

}  // namespace mls
