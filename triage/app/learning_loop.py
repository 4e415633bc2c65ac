"""What follows human feedback: telemetry, auto-tuning of the current model's thresholds, and whether to retrain."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.domain.errors import NotFoundError
from triage.learning.registry import read_pointer
from triage.learning.tuning import (
    auto_tune,
    current_overrides,
    effective_thresholds,
    known_config,
)
from triage.ports.layout import model_prefix
from triage.ports.records import FEEDBACK, RUNS, arrival


def model_thresholds(s: Services, repo: str, version: str) -> dict[str, float] | None:
    """The per-label thresholds in a model's manifest, or None if the manifest is missing."""
    try:
        manifest = json.loads(s.blobs.get(f"{model_prefix(repo, version)}/manifest.json"))
    except NotFoundError:
        return None
    return dict(manifest["thresholds"]["per_label"])


def thresholds_in_force(s: Services, repo: str, version: str) -> tuple[dict[str, float], frozenset[str],
                                                                        dict[str, str]] | None:
    """The effective thresholds of a model version with the repository config the labeler last read."""
    thresholds = model_thresholds(s, repo, version)
    if thresholds is None:
        return None
    config = known_config(s.docs, repo)
    return effective_thresholds(thresholds, current_overrides(s.docs, repo, version),
                                config.get("default_threshold"), config.get("pinned") or {})


def after_feedback(s: Services, repo: str, records: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """A telemetry event per feedback record, then auto-tuning of the current model's thresholds when it is on;
    returns the threshold changes."""
    for record in records:
        telemetry.event("LabelFeedback", repo=repo, issue=record["number"], label=record["label"],
                        verdict=record["verdict"], judged_label=record.get("judged_label"),
                        source=record.get("source"), model=record.get("model_version"))
        telemetry.count("triage.feedback", 1, repo=repo, verdict=record["verdict"])
    if not s.settings.auto_tune:
        return []
    pointer, _ = read_pointer(s.blobs, repo)
    thresholds = model_thresholds(s, repo, pointer["version"]) if pointer else None
    if not pointer or thresholds is None:
        return []
    config = known_config(s.docs, repo)
    if config.get("default_threshold"):  # the thresholds the labeler used: the config's default replaces the model's
        thresholds = {label: float(config["default_threshold"]) for label in thresholds}
    changes = auto_tune(s.docs, repo, pointer["version"], thresholds, target=s.settings.target_precision,
                        min_decisions=s.settings.auto_tune_min_decisions, step=s.settings.auto_tune_step,
                        pinned=frozenset(config.get("pinned") or {}))
    for change in changes:
        telemetry.event("LabelPaused" if change["paused"] else "ThresholdRaised", repo=repo, **change)
    return changes


def retrain_due(s: Services, repo: str) -> bool:
    """True when the human labels and corrections since the last training run reached the repository config's
    ``training.min_new_labels`` (as last read by the labeler), else ``TRIAGE_RETRAIN_AFTER``."""
    since = max((r.get("started_at", "") for r in s.docs.query(RUNS, repo)), default="")
    fresh = [f for f in s.docs.query(FEEDBACK, repo) if arrival(f) > since]
    return len(fresh) >= int(known_config(s.docs, repo).get("min_new_labels") or s.app.retrain_after)
