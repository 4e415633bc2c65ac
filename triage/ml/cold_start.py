"""Cold start: a classifier for a repository with few or no labeled issues (NumPy only).

Each label gets a *prototype*: the L2-normalised mean of the embedding of its text (``"name words:
description"``) and the embeddings of the labeled issues that carry it. An issue's score for a label is
``temperature × cosine(issue, prototype)``, turned into probabilities by a softmax. With no labeled
issue this is zero-shot ranking by label text; with k issues per label it is a nearest-prototype
few-shot classifier (no training beyond averaging). The training job exports the encoder with these
prototypes as its linear head, so the served model is an ordinary ONNX classifier. Issues of prior
repositories (``training.prior``) add to each prototype as :data:`PRIOR_WEIGHT` issues would
(:func:`prior_term`), on an encoder the job first fine-tuned on them.

Thresholds: with labeled issues, each issue is scored against prototypes built *without* it
(leave-one-out) and the usual thresholds for the target precision are picked on those scores; with
none, every threshold is :data:`~triage.ml.metrics.NEVER`, so the labeler ranks but applies nothing
until the maintainer sets a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from triage.domain.label_words import label_words
from triage.ml.metrics import NEVER, pick_thresholds

TEMPERATURE = 20.0  # cosine gaps of 0.05-0.2 between labels become clear but not saturated probabilities
LABEL_WEIGHT = 1.0  # the label text counts as this many labeled issues in its prototype
PRIOR_WEIGHT = 10.0  # the prior repositories' issues of a label count as this many of its own labeled issues


def label_text(name: str, description: str = "") -> str:
    """What a label is embedded as: its name in words, then its description if it has one."""
    description = " ".join((description or "").split())
    return f"{label_words(name)}: {description}" if description else label_words(name)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def prior_term(examples: np.ndarray, targets: np.ndarray, weight: float = PRIOR_WEIGHT) -> np.ndarray:
    """What other repositories' labeled issues add to each prototype, ``(labels, dim)``: the unit-length mean
    of a label's issues times ``weight`` (a zero row for a label they never carry), so that however many
    there are, a repository's own issues outweigh them once it has more than ``weight`` of a label."""
    examples = normalise(examples)
    targets = np.asarray(targets, dtype=np.float32).reshape(len(examples), -1)
    return weight * normalise(targets.T @ examples)


def prototypes(label_vectors: np.ndarray, examples: np.ndarray, targets: np.ndarray,
               label_weight: float = LABEL_WEIGHT, prior: np.ndarray | None = None) -> np.ndarray:
    """One unit-length prototype per label, shape ``(labels, dim)``.

    Args:
        label_vectors: embeddings of the label texts, ``(labels, dim)``; a label without text may be a
            zero row (then ``label_weight`` adds nothing for it).
        examples: embeddings of the labeled issues, ``(n, dim)`` (``n`` may be 0).
        targets: 0/1 indicator matrix ``(n, labels)``.
        label_weight: how many issues the label text is worth; 0 uses the issues alone.
        prior: :func:`prior_term` of other repositories' issues, added as it is (None: nothing).
    """
    label_vectors, examples = normalise(label_vectors), normalise(examples)
    targets = np.asarray(targets, dtype=np.float32).reshape(len(examples), len(label_vectors))
    total = label_weight * label_vectors + targets.T @ examples
    return normalise(total if prior is None else total + prior)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def scores(issues: np.ndarray, protos: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    """Probabilities ``(n, labels)``: softmax of ``temperature × cosine`` (what the exported model serves)."""
    return softmax(temperature * normalise(issues) @ protos.T)


def leave_one_out(label_vectors: np.ndarray, examples: np.ndarray, targets: np.ndarray,
                  label_weight: float = LABEL_WEIGHT, temperature: float = TEMPERATURE,
                  prior: np.ndarray | None = None) -> np.ndarray:
    """Each labeled issue's probabilities against prototypes built without it, ``(n, labels)``.

    An issue scored against a prototype it is part of looks more certain than a new issue would; removing it
    gives honest scores for picking thresholds even with a handful of issues.
    """
    label_vectors, examples = normalise(label_vectors), normalise(examples)
    targets = np.asarray(targets, dtype=np.float32).reshape(len(examples), len(label_vectors))
    total = label_weight * label_vectors + targets.T @ examples  # (labels, dim), not normalised
    if prior is not None:
        total = total + prior
    out = np.zeros(targets.shape, dtype=np.float32)
    for i in range(len(examples)):
        without = total - np.outer(targets[i], examples[i])
        out[i] = scores(examples[i:i + 1], normalise(without), temperature)[0]
    return out


def cold_thresholds(probs: np.ndarray, truth: np.ndarray, labels: Sequence[str], target_precision: float,
                    single_label: bool = True) -> dict[str, Any]:
    """Thresholds for the target precision on leave-one-out scores; with no labeled issue, abstain everywhere."""
    if len(truth) == 0:
        return {"target_precision": target_precision, "global": NEVER, "per_label": {label: NEVER for label in labels},
                "source": {label: "abstain: no labeled issues" for label in labels}}
    return pick_thresholds(probs, truth, labels, target_precision, single_label)


def describe(labels: Sequence[str], descriptions: Mapping[str, str]) -> list[str]:
    """The label texts of ``labels``, with the descriptions known for them."""
    return [label_text(label, descriptions.get(label, "")) for label in labels]
