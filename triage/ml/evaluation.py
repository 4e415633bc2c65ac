"""Evaluating a served model on a dataset split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from triage.ml.metrics import confusion, evaluate, indicator
from triage.ml.model import Classifier


def evaluate_model(model: Classifier, rows: Sequence[dict[str, Any]], progress: bool = False) -> dict[str, Any]:
    """Metrics of ``model`` on dataset rows (``text``, ``labels``), raw and at the model's thresholds.

    Gold labels the model does not know count as misses. The result also holds the
    precision-vs-coverage curve and the confusion matrix over the model's labels.
    """
    probs = _predict(model, rows, progress)
    truth = indicator([row["labels"] for row in rows], model.labels)
    result = evaluate(probs, truth, model.labels, model.thresholds, model.single_label)
    result["confusion"] = confusion(truth, probs).tolist()
    result["labels"] = list(model.labels)
    result["model_version"] = model.version
    return result


def _predict(model: Classifier, rows: Sequence[dict[str, Any]], progress: bool, batch: int = 32) -> np.ndarray:
    if not progress:
        return model.predict_rows(rows)
    from tqdm.auto import tqdm

    parts = [model.predict_rows(rows[i:i + batch]) for i in tqdm(range(0, len(rows), batch), desc="evaluating", unit="batch")]
    return np.concatenate(parts) if parts else np.zeros((0, len(model.labels)), dtype=np.float32)
