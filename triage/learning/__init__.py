"""The learning loop: feedback on predictions, live precision, bounded auto-tuning, the model registry
and the promotion gate. Imports ``triage.data``, ``triage.ml``, ``triage.ports`` and ``triage.domain``."""
