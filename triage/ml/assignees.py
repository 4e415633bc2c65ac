"""The learned assignee model: who a human would assign a new issue to, learned from the repository's history.

NumPy only (the Function app trains and serves it). Features: TF-IDF word 1-2-grams of the issue text plus
its labels (:mod:`triage.ml.assignee_features`). Two learners, chosen by ``kind``: a softmax regression
fitted by full-batch gradient descent (``"softmax"``, the default: the more accurate on the data measured,
see docs/performance.md) and a nearest centroid (``"centroid"``: one pass, no tuning). Examples are each
issue's first human assignee (:mod:`triage.ml.assignee_history`); the oldest ``1 - heldout_fraction`` of
them train, the newest are held out to pick per-assignee thresholds at the target precision, as for labels.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from triage.domain.errors import DataFormatError, EmptyDatasetError
from triage.domain.issues import Issue
from triage.ml.assignee_features import Featurizer, Sparse, grams, spmm
from triage.ml.assignee_history import assignment_history
from triage.ml.assignee_metrics import heldout_metrics
from triage.ml.metrics import pick_thresholds

KINDS = ("softmax", "centroid")
LABEL_WEIGHT = 2.0  # an issue's labels outweigh its words: with few examples per person the area is the best clue
STEPS = 300
LEARNING_RATE = 0.1
L2 = 1e-4
TEMPERATURE = 10.0  # centroid: cosine gaps of 0.1 between people become clear, not saturated, probabilities
MIN_EXAMPLES = 5  # training issues a person needs to be routed to
MIN_HELDOUT = 5
FORMAT = 1


class AssigneeModel:
    """Scores over the people the history routes to; ``thresholds`` per person (from the held-out part)."""

    def __init__(self, version: str, assignees: Sequence[str], featurizer: Featurizer, coef: np.ndarray,
                 intercept: np.ndarray, thresholds: dict[str, float], kind: str, temperature: float = TEMPERATURE,
                 metrics: dict[str, Any] | None = None) -> None:
        self.version = version
        self.assignees = list(assignees)
        self.featurizer = featurizer
        self.coef = np.asarray(coef, dtype=np.float32)  # (features, assignees)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.thresholds = dict(thresholds)
        self.kind = kind
        self.temperature = float(temperature)
        self.metrics = metrics or {}

    def predict_proba(self, docs: Sequence[list[str]], label_sets: Sequence[Sequence[str]]) -> np.ndarray:
        """Probabilities ``(len(docs), len(assignees))`` of tokenised issues."""
        return _softmax(self._logits(self.featurizer.matrix(docs, label_sets)))

    def scores(self, title: str, body: str, labels: Sequence[str] = ()) -> dict[str, float]:
        """Probability of each known assignee for one issue (they sum to 1)."""
        probs = self.predict_proba([grams(title, body)], [tuple(labels)])[0]
        return {who: float(p) for who, p in zip(self.assignees, probs)}

    def _logits(self, x: Sparse) -> np.ndarray:
        logits = spmm(x, self.coef)
        if self.kind == "centroid":
            logits *= self.temperature
        return logits + self.intercept

    def to_bytes(self) -> bytes:
        """The model as an ``.npz`` archive (no pickle)."""
        meta = {"format": FORMAT, "version": self.version, "assignees": self.assignees, "kind": self.kind,
                "terms": self.featurizer.terms, "labels": self.featurizer.labels,
                "label_weight": self.featurizer.label_weight, "thresholds": self.thresholds,
                "temperature": self.temperature, "metrics": self.metrics}
        out = io.BytesIO()
        np.savez_compressed(out, meta=np.array(json.dumps(meta)), idf=self.featurizer.idf, coef=self.coef,
                            intercept=self.intercept)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> AssigneeModel:
        """Inverse of :meth:`to_bytes`; raises :class:`DataFormatError` for anything else."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                meta = json.loads(str(arrays["meta"]))
                idf, coef, intercept = arrays["idf"], arrays["coef"], arrays["intercept"]
            featurizer = Featurizer(meta["terms"], idf, meta["labels"], meta["label_weight"])
            if meta.get("format") != FORMAT or meta["kind"] not in KINDS or \
                    coef.shape != (featurizer.width, len(meta["assignees"])) or intercept.shape != coef.shape[1:]:
                raise ValueError("shapes or format do not match")
            return cls(meta["version"], meta["assignees"], featurizer, coef, intercept,
                       {str(k): float(v) for k, v in meta["thresholds"].items()}, meta["kind"],
                       meta.get("temperature", TEMPERATURE), meta.get("metrics"))
        except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DataFormatError(f"not an assignee model ({str(exc)[:120]}): train one with `train_assignees` "
                                  "(it writes models/{repo}/assignees/{version}.npz)") from None


def fit_assignees(issues: Sequence[Issue], *, now: str | None = None, inactive_months: int = 6,
                  target_precision: float = 0.8, bot_login: str | None = None, kind: str = "softmax",
                  use_labels: bool = True, min_examples: int = MIN_EXAMPLES, heldout_fraction: float = 0.2,
                  steps: int = STEPS) -> tuple[AssigneeModel, dict[str, Any]]:
    """Fit on the oldest part of the human assignment history, pick thresholds on the newest; returns the model
    and its held-out metrics. Raises :class:`EmptyDatasetError` ("not enough human assignments") when fewer than
    two people have ``min_examples`` training issues or fewer than :data:`MIN_HELDOUT` issues are held out."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    history = assignment_history(issues, now=now, inactive_months=inactive_months, bot_login=bot_login)
    examples = history.examples
    cut = int(round(len(examples) * (1 - heldout_fraction)))
    train, heldout = examples[:cut], examples[cut:]
    counts: dict[str, int] = {}
    for e in train:
        counts[e.assignee] = counts.get(e.assignee, 0) + 1
    people = sorted(who for who, n in counts.items() if n >= min_examples)
    train = [e for e in train if e.assignee in people]
    if len(people) < 2 or len(heldout) < MIN_HELDOUT:
        raise EmptyDatasetError(
            f"not enough human assignments to learn from: {len(examples)} assigned issues, {len(people)} people with "
            f"at least {min_examples} of the oldest {cut}, {len(heldout)} held out (need 2 people and {MIN_HELDOUT} "
            f"held out); assign issues by hand, scrape their events (`triage scrape`), or route by config rules")
    docs = [grams(e.issue.title, e.issue.body) for e in train]
    label_sets = [e.issue.labels if use_labels else () for e in train]
    featurizer = Featurizer.learn(docs, label_sets, LABEL_WEIGHT if use_labels else 0.0)
    y = np.array([people.index(e.assignee) for e in train])
    x = featurizer.matrix(docs, label_sets)
    prior = np.log(np.bincount(y, minlength=len(people)) / len(y)).astype(np.float32)
    if kind == "centroid":
        coef, intercept = _centroids(x, y, len(people)), np.zeros(len(people), dtype=np.float32)
    else:
        coef, intercept = _gradient_descent(x, y, len(people), prior, steps)
    digest = hashlib.sha256(json.dumps([[e.issue.number, e.assignee] for e in train] + [kind, use_labels])
                            .encode()).hexdigest()[:8]
    stamp = history.reference.strftime("%Y%m%dT%H%M%SZ") if history.reference else "undated"
    model = AssigneeModel(f"{stamp}-{digest}", people, featurizer, coef, intercept, {}, kind)
    held_docs = [grams(e.issue.title, e.issue.body) for e in heldout]
    held_labels = [e.issue.labels if use_labels else () for e in heldout]
    probs = model.predict_proba(held_docs, held_labels)
    truth = np.array([[e.assignee == who for who in people] for e in heldout], dtype=np.int8)
    model.thresholds = pick_thresholds(probs, truth, people, target_precision, single_label=True)["per_label"]
    metrics = heldout_metrics(probs, truth, people, model.thresholds, [e.assignee for e in train],
                              [e.issue.labels for e in train], [e.issue.labels for e in heldout])
    metrics |= {"kind": kind, "use_labels": use_labels, "target_precision": target_precision,
                "inactive_months": inactive_months, "n_examples": len(examples), "n_train": len(train),
                "dropped_inactive": history.dropped_inactive, "bot_only": history.bot_only,
                "dropped_rare": sorted(set(counts) - set(people)), "version": model.version}
    model.metrics = {k: v for k, v in metrics.items() if k != "per_assignee"}
    return model, metrics


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def _centroids(x: Sparse, y: np.ndarray, k: int) -> np.ndarray:
    """Each person's L2-normalised mean feature vector, one column per person."""
    onehot = np.eye(k, dtype=np.float32)[y]
    sums = spmm(x.transpose(), onehot)
    norms = np.linalg.norm(sums, axis=0, keepdims=True)
    return sums / np.where(norms > 0, norms, 1.0)


def _gradient_descent(x: Sparse, y: np.ndarray, k: int, prior: np.ndarray, steps: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression with L2, full batch, Adam: a few hundred steps over a sparse matrix."""
    xt = x.transpose()
    w = np.zeros((x.n_cols, k), dtype=np.float32)
    b = prior.copy()
    onehot = np.eye(k, dtype=np.float32)[y]
    moments = [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        grad = (_softmax(spmm(x, w) + b) - onehot) / len(y)
        gw, gb = spmm(xt, grad) + L2 * w, grad.sum(axis=0)
        for i, (param, g) in enumerate(((w, gw), (b, gb))):
            m, v = moments[2 * i], moments[2 * i + 1]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            param -= LEARNING_RATE * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)
    return w, b
