"""Evaluation metrics and confidence thresholds (NumPy only, shared by training and serving).

Shapes: ``probs`` is ``(n_issues, n_labels)``; ``truth`` is a 0/1 indicator matrix of the
same shape. In single-label mode each issue's prediction is its arg-max label; in
multi-label mode every label with a score over its threshold is predicted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

NEVER = 1.01  # a threshold no probability reaches: the label is never applied
# Thresholds must reach the target precision with ~90 % (one-sided) confidence, not merely on average: validation
# splits are small, the lowest cut that reaches the target is picked where luck helped most, and new issues drift.
# On the corefx benchmark the plain estimate reached 0.868-0.876 precision on the newer test issues for a 0.9
# target; the bound 0.881-0.887, at 69 % coverage (README, Performance).
CONFIDENCE_Z = 1.28
MIN_SUPPORT = 20  # validation decisions a label needs for a threshold of its own


def indicator(label_sets: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    """0/1 matrix with one row per issue and one column per label in ``labels``."""
    index = {label: j for j, label in enumerate(labels)}
    matrix = np.zeros((len(label_sets), len(labels)), dtype=np.int8)
    for i, row in enumerate(label_sets):
        for label in row:
            if label in index:
                matrix[i, index[label]] = 1
    return matrix


def predict(probs: np.ndarray, thresholds: np.ndarray | None, single_label: bool, max_labels: int = 1) -> np.ndarray:
    """0/1 predictions: top-``max_labels`` labels whose score reaches their threshold.

    With ``thresholds=None`` nothing is withheld: single-label mode predicts the arg-max,
    multi-label mode every label scoring at least 0.5.
    """
    n, k = probs.shape
    out = np.zeros((n, k), dtype=np.int8)
    if thresholds is None:
        if single_label:
            out[np.arange(n), probs.argmax(axis=1)] = 1
            return out
        thresholds = np.full(k, 0.5)
    order = np.argsort(-probs, axis=1)
    for i in range(n):
        if single_label:  # exclusive labels: the best guess or nothing, as the labeler decides
            j = order[i, 0]
            out[i, j] = probs[i, j] >= thresholds[j]
            continue
        passing = [j for j in order[i] if probs[i, j] >= thresholds[j]][:max_labels]
        out[i, passing] = 1
    return out


def report(truth: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Per-label precision/recall/F1/support, macro and micro F1, accuracy and coverage.

    Accuracy counts an issue as right when its predicted label set equals the true one
    (for single-label: the top label is the true label). Coverage is the share of issues
    that received at least one label.
    """
    tp = (truth & pred).sum(axis=0).astype(float)
    fp = ((1 - truth) & pred).sum(axis=0).astype(float)
    fn = (truth & (1 - pred)).sum(axis=0).astype(float)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    support = truth.sum(axis=0)
    present = support > 0
    labeled = pred.any(axis=1)
    micro_p = tp.sum() / max(tp.sum() + fp.sum(), 1)
    micro_r = tp.sum() / max(tp.sum() + fn.sum(), 1)
    return {
        "per_label": {
            label: {"precision": float(precision[j]), "recall": float(recall[j]), "f1": float(f1[j]),
                    "support": int(support[j]), "labeled": int(tp[j] + fp[j])}
            for j, label in enumerate(labels)
        },
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "micro_f1": float(2 * micro_p * micro_r / (micro_p + micro_r)) if micro_p + micro_r else 0.0,
        "accuracy": float((truth == pred).all(axis=1).mean()) if len(truth) else 0.0,
        "coverage": float(labeled.mean()) if len(truth) else 0.0,
        "precision_when_labeled": float(micro_p),
        "n": int(len(truth)),
    }


def _scored(probs: np.ndarray, truth: np.ndarray, single_label: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(label index, score, correct) for every candidate decision the labeler could make."""
    if single_label:
        top = probs.argmax(axis=1)
        rows = np.arange(len(probs))
        return top, probs[rows, top], truth[rows, top].astype(bool)
    n, k = probs.shape
    return np.tile(np.arange(k), n), probs.reshape(-1), truth.reshape(-1).astype(bool)


def _lowest_threshold(scores: np.ndarray, correct: np.ndarray, target: float, z: float) -> float:
    """Smallest score t such that decisions with score >= t have precision >= target.

    With ``z > 0`` the precision is the lower end of its Wilson score interval (``z`` standard
    errors, one-sided) rather than the observed fraction, so a cut backed by few decisions needs
    more of them right: ten right out of ten has a 0.86 lower bound at ``z = 1.28``.
    """
    if len(scores) == 0:
        return NEVER
    order = np.argsort(-scores, kind="stable")
    s, c = scores[order], correct[order]
    n = np.arange(1, len(c) + 1)
    p = np.cumsum(c) / n
    precision = (p + z * z / (2 * n) - z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
    # Only cut between distinct scores: ties are all in or all out.
    last_of_tie = np.append(s[1:] != s[:-1], True)
    ok = np.flatnonzero((precision >= target) & last_of_tie)
    return float(s[ok[-1]]) if len(ok) else NEVER


def pick_thresholds(
    probs: np.ndarray, truth: np.ndarray, labels: Sequence[str], target_precision: float,
    single_label: bool, min_support: int = MIN_SUPPORT, z: float = CONFIDENCE_Z,
) -> dict[str, Any]:
    """Per-label confidence thresholds that reach ``target_precision`` on validation data.

    Precision is judged by its lower confidence bound (``z``, see :func:`_lowest_threshold`;
    ``z=0`` uses the observed precision). A label with at least ``min_support`` candidate
    decisions gets its own threshold; rarer labels share the global one (pooled over all
    labels), since a handful of validation examples cannot support a threshold of its own.
    A label whose target cannot be reached gets :data:`NEVER`, so the labeler abstains on it.
    """
    index, scores, correct = _scored(probs, truth, single_label)
    if not single_label:  # ignore hopeless candidates so the pool is not dominated by easy negatives
        keep = scores >= 0.05
        index, scores, correct = index[keep], scores[keep], correct[keep]
    global_t = _lowest_threshold(scores, correct, target_precision, z)
    per_label: dict[str, float] = {}
    source: dict[str, str] = {}
    for j, label in enumerate(labels):
        mine = index == j
        if int(mine.sum()) >= min_support:
            per_label[label] = _lowest_threshold(scores[mine], correct[mine], target_precision, z)
            source[label] = "own"
        else:
            per_label[label] = global_t
            source[label] = "global"
    return {"target_precision": target_precision, "confidence_z": z, "global": global_t, "per_label": per_label,
            "source": source}


def precision_coverage_curve(probs: np.ndarray, truth: np.ndarray) -> dict[str, list[float]]:
    """Precision of the top label against the share of issues labeled, as the confidence cut falls."""
    if len(probs) == 0:
        return {"threshold": [], "coverage": [], "precision": []}
    top, score, correct = _scored(probs, truth, single_label=True)
    order = np.argsort(-score, kind="stable")
    hits = np.cumsum(correct[order])
    count = np.arange(1, len(order) + 1)
    return {
        "threshold": score[order].round(6).tolist(),
        "coverage": (count / len(order)).round(6).tolist(),
        "precision": (hits / count).round(6).tolist(),
    }


def confusion(truth: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Counts of (first true label, top predicted label); issues without a true label are skipped."""
    k = truth.shape[1]
    matrix = np.zeros((k, k), dtype=np.int64)
    for i in np.flatnonzero(truth.any(axis=1)):
        matrix[int(truth[i].argmax()), int(probs[i].argmax())] += 1
    return matrix


def evaluate(probs: np.ndarray, truth: np.ndarray, labels: Sequence[str], thresholds: dict[str, float] | None,
             single_label: bool, max_labels: int = 1) -> dict[str, Any]:
    """Metrics without abstention (``raw``) and at the thresholds (``at_thresholds``), plus the curve."""
    result = {"raw": report(truth, predict(probs, None, single_label, max_labels), labels)}
    if thresholds is not None:
        t = np.array([thresholds[label] for label in labels])
        result["at_thresholds"] = report(truth, predict(probs, t, single_label, max_labels), labels)
    result["curve"] = precision_coverage_curve(probs, truth)
    return result
