"""Bounded auto-tuning of thresholds from live precision (off unless ``TRIAGE_AUTO_TUNE`` is on).

When a label of the current model has at least ``min_decisions`` judged decisions since its
last change and their precision is below target, its threshold goes up by ``step`` (never
above :data:`MAX_THRESHOLD`); a label already at the cap is paused (never applied). Changes
only ever make the labeler more careful, apply to the model version they were measured on
(a newly promoted model starts from its own thresholds), skip labels whose threshold the
repository config pins, and are kept with their reason in the ``tuning`` container.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from triage.domain.repo_config import RepoConfig
from triage.learning.live import latest_judgments
from triage.ports.records import FEEDBACK, TUNING, arrival
from triage.ports.stores import DocumentStore

# The tuning container holds documents of kind "override" (in force), "change" (history) and "config" (pins seen).
MAX_THRESHOLD = 0.99
CONFIG_ID = "repo-config"


def current_overrides(docs: DocumentStore, repo: str, model_version: str) -> dict[str, dict[str, Any]]:
    """Label → override (``threshold``, ``paused``, ``reason``, ``at``) in force for ``model_version``."""
    return {d["label"]: d for d in docs.query(TUNING, repo, kind="override", model_version=model_version)}


def tuning_history(docs: DocumentStore, repo: str, limit: int = 20) -> list[dict[str, Any]]:
    """The latest threshold changes, newest first."""
    changes = sorted(docs.query(TUNING, repo, kind="change"), key=lambda d: d["at"], reverse=True)[:limit]
    return [{k: d.get(k) for k in ("label", "old", "new", "paused", "reason", "at", "model_version")} for d in changes]


def remember_config(docs: DocumentStore, repo: str, config: RepoConfig) -> None:
    """Keep what the tuner and the retrain triggers need from the repository config (read by the labeler).

    Feedback arrives by webhook, where fetching the config from GitHub would cost a request
    per event; the labeler reads it anyway, so it leaves a copy here (written only on change).
    """
    wanted = {"pinned": dict(config.thresholds), "default_threshold": config.default_threshold,
              "min_new_labels": config.min_new_labels, "schedule": config.schedule,
              "prior": list(config.prior),  # training.prior: the repositories a cold-start dataset learns from
              # owner routing's learned model: trained only while it is on, with its activity window
              "assignee_months": config.routing.inactive_months if config.routing and config.routing.learned else None}
    known = docs.get(TUNING, repo, CONFIG_ID) or {}
    if any(key not in known or known[key] != value for key, value in wanted.items()):  # a new key counts as a change
        docs.upsert(TUNING, {"id": CONFIG_ID, "repo": repo, "kind": "config", **wanted})


def known_config(docs: DocumentStore, repo: str) -> dict[str, Any]:
    """The copy of the repository config's pins, default threshold, retrain count, training schedule, prior
    repositories and the learned routing's activity window (empty before the labeler first ran)."""
    return docs.get(TUNING, repo, CONFIG_ID) or {}


def auto_tune(docs: DocumentStore, repo: str, model_version: str, thresholds: Mapping[str, float], *, target: float,
              min_decisions: int, step: float, pinned: frozenset[str] = frozenset(),
              now: datetime | None = None) -> list[dict[str, Any]]:
    """Raise or pause labels whose live precision is below ``target``; returns the changes made."""
    at = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    overrides = current_overrides(docs, repo, model_version)
    judgments = [f for f in latest_judgments(docs.query(FEEDBACK, repo))
                 if f.get("model_version") == model_version and f["verdict"] in ("confirmed", "corrected")]
    changes = []
    for label in sorted({f["judged_label"] for f in judgments} & set(thresholds) - pinned):
        override = overrides.get(label)
        if override and override["paused"]:
            continue
        since = override["evidence_until"] if override else ""
        recent = [f for f in judgments if f["judged_label"] == label and arrival(f) > since]
        if len(recent) < min_decisions:
            continue
        precision = sum(f["verdict"] == "confirmed" for f in recent) / len(recent)
        if precision >= target:
            continue
        old = float(override["threshold"]) if override else float(thresholds[label])
        paused = old >= MAX_THRESHOLD
        new = old if paused else round(min(MAX_THRESHOLD, old + step), 4)
        reason = (f"live precision {precision:.2f} < target {target:.2f} over {len(recent)} judged decisions"
                  f"{' since the last change' if override else ''}: "
                  + (f"paused (threshold already {old:.2f})" if paused else f"threshold {old:.2f} -> {new:.2f}"))
        docs.upsert(TUNING, {"id": f"override:{model_version}:{label}", "repo": repo, "kind": "override",
                             "model_version": model_version, "label": label, "threshold": new, "paused": paused,
                             "reason": reason, "at": at, "evidence_until": max(map(arrival, recent))})
        change = {"label": label, "old": old, "new": new, "paused": paused, "reason": reason, "at": at,
                  "model_version": model_version, "precision": round(precision, 4), "judged": len(recent)}
        docs.upsert(TUNING, {"id": f"change:{at}:{label}", "repo": repo, "kind": "change", **change})
        changes.append(change)
    return changes


def effective_thresholds(model_thresholds: Mapping[str, float], overrides: Mapping[str, Mapping[str, Any]],
                         default_threshold: float | None = None, pinned: Mapping[str, float] | None = None,
                         ) -> tuple[dict[str, float], frozenset[str], dict[str, str]]:
    """The thresholds in force for a model's labels: (thresholds, paused labels, where each comes from).

    The one rule, used by the labeler, the tuner and the dashboard: the model's threshold, or the
    repository config's default instead; raised (never lowered) or paused by an auto-tuning override;
    a threshold the repository config sets per label pins it (the tuner leaves it alone).
    """
    pinned = pinned or {}
    thresholds: dict[str, float] = {}
    paused: set[str] = set()
    source: dict[str, str] = {}
    for label, model_threshold in model_thresholds.items():
        threshold, source[label] = ((float(default_threshold), "repository default") if default_threshold
                                    else (float(model_threshold), "from model"))
        if label in pinned:
            threshold, source[label] = float(pinned[label]), "pinned"
        elif label in overrides:
            override = overrides[label]
            threshold = max(threshold, float(override["threshold"]))
            source[label] = "paused" if override["paused"] else "auto-tuned"
            if override["paused"]:
                paused.add(label)
        thresholds[label] = threshold
    return thresholds, frozenset(paused), source
