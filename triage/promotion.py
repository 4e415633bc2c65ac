"""Promotion: a candidate becomes the current model only if it is not worse than the champion.

:func:`gate` is the pure decision; :func:`promote` evaluates both models on the same
frozen test set, applies the gate, moves the pointer atomically and records the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from .dataset import load_split
from .errors import NotFoundError
from .evaluation import evaluate_model
from .model import Classifier
from .registry import MODELS, model_prefix, read_pointer, write_pointer
from .stores import BlobStore, DocumentStore

PRIMARY = "macro_f1"


@dataclass(frozen=True)
class GateResult:
    """Whether to promote, and why."""

    promote: bool
    reason: str


def gate(candidate: Mapping[str, float], champion: Mapping[str, float] | None, min_improvement: float = 0.0) -> GateResult:
    """Promote when there is no champion, or the candidate's macro-F1 is at least the champion's plus ``min_improvement``."""
    if champion is None:
        return GateResult(True, "no current model")
    c, k = candidate[PRIMARY], champion[PRIMARY]
    if c >= k + min_improvement:
        return GateResult(True, f"macro-F1 {c:.4f} >= champion {k:.4f} + {min_improvement:.4f}")
    return GateResult(False, f"macro-F1 {c:.4f} < champion {k:.4f} + {min_improvement:.4f} on the same frozen test set")


Loader = Callable[[BlobStore, str], Classifier]


def promote(blobs: BlobStore, docs: DocumentStore, repo: str, version: str, min_improvement: float = 0.0,
            load: Loader = Classifier.from_store, progress: bool = False) -> dict[str, Any]:
    """Evaluate ``version`` against the current model on the candidate's (frozen) test split and promote or reject it."""
    candidate = load(blobs, model_prefix(repo, version))
    test = load_split(blobs, repo, candidate.manifest["dataset_version"], "test")
    pointer, etag = read_pointer(blobs, repo)
    scores = {"candidate": evaluate_model(candidate, test, progress)["raw"]}
    champion_version = pointer["version"] if pointer else None
    if champion_version == version:
        return {"promoted": False, "reason": f"{version} is already the current model", "version": version}
    if champion_version:
        try:
            scores["champion"] = evaluate_model(load(blobs, model_prefix(repo, champion_version)), test, progress)["raw"]
        except NotFoundError:
            scores["champion"] = None  # a pointer to a deleted model must not block recovery
    result = gate(scores["candidate"], scores.get("champion"), min_improvement)
    if result.promote:
        write_pointer(blobs, repo, version, champion_version, etag, result.reason)
    record = docs.get(MODELS, repo, version) or {"id": version, "repo": repo}
    docs.upsert(MODELS, {
        **record, "status": "promoted" if result.promote else "rejected", "reason": result.reason,
        "champion": champion_version, "decided_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gate_scores": {name: (s and {k: s[k] for k in ("accuracy", "macro_f1")}) for name, s in scores.items()},
    })
    return {"promoted": result.promote, "reason": result.reason, "version": version, "champion": champion_version,
            "scores": {name: (s and {k: s[k] for k in ("accuracy", "macro_f1")}) for name, s in scores.items()}}
