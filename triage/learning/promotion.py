"""Promotion: a candidate becomes the current model only if it is not worse than the champion.

:func:`gate` is the pure decision; :func:`promote` evaluates both models on the same
frozen test set, applies the gate, moves the pointer atomically and records the outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from triage.data.dataset import RECENT, load_split
from triage.domain.errors import NotFoundError
from triage.learning.registry import read_pointer, write_pointer
from triage.ml.evaluation import evaluate_model
from triage.ml.model import Classifier
from triage.ports.layout import model_prefix
from triage.ports.records import MODELS, ModelRecord, now_iso
from triage.ports.stores import BlobStore, DocumentStore

PRIMARY = "macro_f1"
MIN_RECENT = 10  # fewer recent issues than this say too little to gate on


@dataclass(frozen=True)
class GateResult:
    """Whether to promote, and why."""

    promote: bool
    reason: str


def gate(candidate: Mapping[str, float], champion: Mapping[str, float] | None, min_improvement: float = 0.0,
         recent_candidate: Mapping[str, float] | None = None, recent_champion: Mapping[str, float] | None = None) -> GateResult:
    """Promote when there is no champion, or the candidate's macro-F1 on the frozen test set is at least the
    champion's plus ``min_improvement`` and, where recent issues were scored, not below the champion's on them."""
    if champion is None:
        return GateResult(True, "no current model")
    c, k = candidate[PRIMARY], champion[PRIMARY]
    if not c >= k + min_improvement:  # a NaN score or margin refuses, never promotes
        return GateResult(False, f"macro-F1 {c:.4f} < champion {k:.4f} + {min_improvement:.4f} on the same frozen test set")
    frozen = f"macro-F1 {c:.4f} >= champion {k:.4f} + {min_improvement:.4f} on the frozen test set"
    if recent_candidate is None or recent_champion is None:
        return GateResult(True, frozen)
    rc, rk = recent_candidate[PRIMARY], recent_champion[PRIMARY]
    if rc < rk:
        return GateResult(False, f"{frozen}, but {rc:.4f} < champion {rk:.4f} on {int(recent_candidate['n'])} recent issues")
    return GateResult(True, f"{frozen} and {rc:.4f} >= champion {rk:.4f} on {int(recent_candidate['n'])} recent issues")


Loader = Callable[[BlobStore, str], Classifier]


def promote(blobs: BlobStore, docs: DocumentStore, repo: str, version: str, min_improvement: float = 0.0,
            load: Loader = Classifier.from_store, progress: bool = False) -> dict[str, Any]:
    """Evaluate ``version`` against the current model on the candidate's (frozen) test split and promote or reject it."""
    candidate = load(blobs, model_prefix(repo, version))
    dataset_version = candidate.manifest["dataset_version"]
    test = load_split(blobs, repo, dataset_version, "test")
    recent = load_split(blobs, repo, dataset_version, RECENT)
    recent = recent if len(recent) >= MIN_RECENT else []
    pointer, etag = read_pointer(blobs, repo)
    scores = {"candidate": evaluate_model(candidate, test, progress)["raw"]}
    recent_scores = {"candidate": evaluate_model(candidate, recent)["raw"]} if recent else {}
    champion_version = pointer["version"] if pointer else None
    if champion_version == version:
        return {"promoted": False, "reason": f"{version} is already the current model", "version": version}
    if champion_version:
        try:
            champion = load(blobs, model_prefix(repo, champion_version))
        except NotFoundError:
            champion = None  # a pointer to a deleted model must not block recovery
        scores["champion"] = evaluate_model(champion, test, progress)["raw"] if champion else None
        if recent and champion:
            recent_scores["champion"] = evaluate_model(champion, recent)["raw"]
    result = gate(scores["candidate"], scores.get("champion"), min_improvement,
                  recent_scores.get("candidate"), recent_scores.get("champion"))
    if result.promote:
        write_pointer(blobs, repo, version, champion_version, etag, result.reason)
    stored = docs.get(MODELS, repo, version) or {"id": version, "repo": repo, "dataset_version": dataset_version}
    docs.upsert(MODELS, ModelRecord.from_doc({
        **stored, "status": "promoted" if result.promote else "rejected", "reason": result.reason,
        "champion": champion_version, "decided_at": now_iso(),
        "gate_scores": _summary(scores), "recent_scores": _summary(recent_scores),
    }).to_doc())
    return {"promoted": result.promote, "reason": result.reason, "version": version, "champion": champion_version,
            "scores": _summary(scores), "recent_scores": _summary(recent_scores)}


def _summary(scores: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    return {name: (s and {k: s[k] for k in ("accuracy", "macro_f1", "n")}) for name, s in scores.items()}
