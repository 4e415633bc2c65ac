"""Machine learning on the serving path: the classifier (ONNX Runtime, no torch), the lexical model,
metrics and thresholds, evaluation, reports and the training job's arguments. Imports ``triage.ports``
and ``triage.domain``."""
