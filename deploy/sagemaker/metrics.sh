# Sourced: the MetricDefinitions for `mls train`, one JSON array per model type. Each regex is the README's
# ("Metrics for SageMaker MetricDefinitions") and captures the number after NAME= on the lines train
# prints on stdout:
#   forest and CNN, once at the end:  validation:auc=0.965064   train:seconds=1.493
#   CNN, once per epoch:  epoch=3/15 train:loss=0.2113 validation:loss=0.1624 validation:accuracy=0.9370 validation:auc=0.9861 seconds=0.6
# SageMaker keeps every match as a time series, so the CNN's per-epoch validation:* values chart the
# learning curve and the last one is the final score. tests/deploy checks these against real output.

forest_metric_definitions() {
  jq -cn '[
    {Name:"validation:accuracy", Regex:"validation:accuracy=([0-9.]+)"},
    {Name:"validation:auc",      Regex:"validation:auc=([0-9.]+)"},
    {Name:"validation:f1",       Regex:"validation:f1=([0-9.]+)"},
    {Name:"validation:log_loss", Regex:"validation:log_loss=([0-9.]+)"},
    {Name:"train:accuracy",      Regex:"train:accuracy=([0-9.]+)"},
    {Name:"train:seconds",       Regex:"train:seconds=([0-9.]+)"}
  ]'
}

# The forest's, plus the per-epoch losses (printed with %f, but a diverging run could print 1e+30 style
# values elsewhere, hence the wider character class the README gives for them).
cnn_metric_definitions() {
  forest_metric_definitions | jq -c '. + [
    {Name:"train:loss",      Regex:"train:loss=([0-9.eE+-]+)"},
    {Name:"validation:loss", Regex:"validation:loss=([0-9.eE+-]+)"}
  ]'
}
