"""How well the assignee model routes held-out issues, next to two baselines that need no learning."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def heldout_metrics(probs: np.ndarray, truth: np.ndarray, people: Sequence[str], thresholds: Mapping[str, float],
                    train_targets: Sequence[str], train_labels: Sequence[Sequence[str]],
                    heldout_labels: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Top-1 and top-3 accuracy, coverage and precision at ``thresholds``, per-person support/precision/recall,
    and the accuracy of the most frequent assignee and of the most frequent assignee of the issue's labels.

    Held-out issues whose assignee the model does not know (new people, people with too few issues) count as
    misses: they are what routing meets on new issues.
    """
    n = len(probs)
    order = np.argsort(-probs, axis=1, kind="stable")
    rows = np.arange(n)
    top = order[:, 0] if n else np.zeros(0, dtype=np.int64)
    right = truth[rows, top].astype(bool) if n else np.zeros(0, dtype=bool)
    top3 = truth[rows[:, None], order[:, :3]].any(axis=1) if n else right
    cut = np.array([thresholds.get(people[j], 1.01) for j in top])
    routed = probs[rows, top] >= cut if n else right
    per: dict[str, dict[str, Any]] = {}
    for j, who in enumerate(people):
        mine = routed & (top == j)
        support = int(truth[:, j].sum())
        hits = int((mine & right).sum())
        per[who] = {"support": support, "routed": int(mine.sum()),
                    "precision": hits / int(mine.sum()) if mine.any() else None,
                    "recall": hits / support if support else None, "threshold": float(thresholds.get(who, 1.01))}
    truths = [people[int(np.argmax(t))] if t.any() else None for t in truth]
    return {
        "n_heldout": n,
        "known_share": float(truth.any(axis=1).mean()) if n else 0.0,
        "accuracy": float(right.mean()) if n else 0.0,
        "top3_accuracy": float(top3.mean()) if n else 0.0,
        "coverage": float(routed.mean()) if n else 0.0,
        "precision_at_thresholds": float(right[routed].mean()) if routed.any() else None,
        "routed": int(routed.sum()),
        "baseline_majority": _share_right(truths, [majority(train_targets)] * n),
        "baseline_label_owner": _share_right(truths, label_owner_guesses(train_targets, train_labels, heldout_labels)),
        "per_assignee": per,
    }


def majority(targets: Sequence[str]) -> str | None:
    """The most frequent assignee (ties: the first seen)."""
    return Counter(targets).most_common(1)[0][0] if targets else None


def label_owner_guesses(train_targets: Sequence[str], train_labels: Sequence[Sequence[str]],
                        heldout_labels: Sequence[Sequence[str]]) -> list[str | None]:
    """For each held-out issue, the person most often assigned issues carrying its labels in training; the most
    frequent assignee for an issue without known labels."""
    owners: dict[str, Counter[str]] = {}
    for who, labels in zip(train_targets, train_labels):
        for label in labels:
            owners.setdefault(label, Counter())[who] += 1
    fallback = majority(train_targets)
    guesses: list[str | None] = []
    for labels in heldout_labels:
        votes: Counter[str] = Counter()
        for label in labels:
            votes.update(owners.get(label, Counter()))
        guesses.append(votes.most_common(1)[0][0] if votes else fallback)
    return guesses


def _share_right(truths: Sequence[str | None], guesses: Sequence[str | None]) -> float:
    pairs = list(zip(truths, guesses))
    return sum(t is not None and t == g for t, g in pairs) / len(pairs) if pairs else 0.0
