#pragma once
// Held-out scores for classifiers, printed by `train` as SageMaker metric lines.

#include <cstddef>
#include <span>

namespace mls {

struct ClassificationScores {
  double accuracy = 0;
  double auc = 0;       // binary: ROC AUC of class 1; multi-class: macro one-vs-rest
  double f1 = 0;        // binary: F1 of class 1; multi-class: macro F1
  double log_loss = 0;  // mean negative log-likelihood, probabilities clipped to [1e-15, 1]
};

// labels: class indices [n]; proba: [n, num_classes] row-major.
ClassificationScores score_classifier(std::span<const int> labels, std::span<const float> proba,
                                      std::size_t num_classes);

// ROC AUC of scores against binary truth (1 = positive); ties get their average rank.
// Returns 0.5 when one class is absent.
double roc_auc(std::span<const int> is_positive, std::span<const float> scores);

}  // namespace mls
