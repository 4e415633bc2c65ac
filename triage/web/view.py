"""Everything the dashboard page shows for one repository, as plain data; every read is bounded (newest N, counts)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

from triage.app.bootstrap import Services
from triage.app.learning_loop import thresholds_in_force
from triage.app.repo_settings import config_error
from triage.app.status import live, queue_depths, recent_runs
from triage.domain.errors import NotFoundError
from triage.learning.assignee_feedback import assignee_quality
from triage.learning.feedback import review_queue
from triage.learning.registry import read_pointer
from triage.learning.tuning import current_overrides, tuning_history
from triage.ports.layout import model_prefix
from triage.ports.records import FEEDBACK, JUDGED, MODELS, POISON, PREDICTIONS, arrival

CARD_IMAGES = ("precision_coverage", "confusion_matrix")
DECISIONS_SHOWN = 50


def dashboard_view(s: Services, repo: str) -> dict[str, Any]:
    """Everything the page shows for ``repo``, as plain data."""
    pointer, _ = read_pointer(s.blobs, repo)
    manifest = _manifest(s, repo, pointer["version"]) if pointer else None
    target = s.settings.target_precision
    quality = live(s, repo)
    return {
        "repo": repo,
        "model": _model(s, repo, pointer, manifest),
        "card": {name: _image(s, repo, pointer["version"], name) if pointer else None for name in CARD_IMAGES},
        "live": quality,
        "target": target,
        "labels": _labels(s, repo, pointer, manifest, quality),
        "decisions": _decisions(s, repo),
        "review": review_queue(s.docs, repo, limit=50),
        "routing": assignee_quality(s.docs, repo),
        "runs": recent_runs(s, repo, 20),
        "queue": _queues(s, repo),
        "tuning": tuning_history(s.docs, repo, limit=20),
        "config_error": config_error(s.docs, repo),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _manifest(s: Services, repo: str, version: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(s.blobs.get(f"{model_prefix(repo, version)}/manifest.json")))
    except NotFoundError:
        return None


def _image(s: Services, repo: str, version: str, name: str) -> str | None:
    try:
        return base64.b64encode(s.blobs.get(f"{model_prefix(repo, version)}/{name}.png")).decode("ascii")
    except NotFoundError:
        return None


def _model(s: Services, repo: str, pointer: dict[str, Any] | None,
           manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    if pointer is None:
        return None
    record = s.docs.get(MODELS, repo, pointer["version"]) or {}
    test = (manifest or {}).get("metrics", {}).get("test", {})
    raw, at = test.get("raw", {}), test.get("at_thresholds", {})
    return {
        "version": pointer["version"], "promoted_at": pointer.get("promoted_at"),
        "created_at": (manifest or {}).get("created_at"),
        "train_size": (manifest or {}).get("training", {}).get("train_size"),
        "dataset_version": (manifest or {}).get("dataset_version") or record.get("dataset_version"),
        "accuracy": raw.get("accuracy"), "macro_f1": raw.get("macro_f1"),
        "coverage": at.get("coverage"), "precision": at.get("precision_when_labeled"),
        "status": record.get("status"), "reason": record.get("reason") or pointer.get("reason"),
        "gate_scores": record.get("gate_scores"),
    }


def _labels(s: Services, repo: str, pointer: dict[str, Any] | None, manifest: dict[str, Any] | None,
            quality: dict[str, Any]) -> list[dict[str, Any]]:
    """Per label: live counts and precision, and the threshold in force with where it comes from."""
    in_force = thresholds_in_force(s, repo, pointer["version"]) if pointer and manifest else None
    thresholds, _, sources = in_force or ({}, frozenset(), {})
    overrides = current_overrides(s.docs, repo, pointer["version"]) if pointer else {}
    rows = []
    for label in sorted(set(thresholds) | set(quality["per_label"])):
        stats = quality["per_label"].get(label, {})
        state = sources.get(label, "from model")
        reason = overrides[label].get("reason", "") if state in ("auto-tuned", "paused") else ""
        rows.append({"label": label, **{k: stats.get(k, 0) for k in ("applied", "confirmed", "corrected", "missed")},
                     "precision": stats.get("precision"), "coverage": stats.get("coverage"),
                     "threshold": thresholds.get(label), "state": state, "reason": reason})
    return rows


def _decisions(s: Services, repo: str) -> list[dict[str, Any]]:
    """The newest decisions with the human outcome of each issue."""
    newest, _ = s.docs.newest(PREDICTIONS, repo, "decided_at", limit=DECISIONS_SHOWN)
    numbers = sorted({d["number"] for d in newest})
    outcomes: dict[int, dict[str, dict[str, Any]]] = {}
    for f in sorted(s.docs.query_in(FEEDBACK, repo, "number", numbers) if numbers else [], key=arrival):
        if f.get("verdict") in JUDGED:  # in arrival order, as live quality counts them: the last verdict shows
            outcomes.setdefault(f["number"], {})[f.get("judged_label") or f.get("label", "")] = f
    rows = []
    for d in newest:
        status = "abstained" if not d.get("add") else ("would apply (dry run)" if d.get("dry_run", True) else "applied")
        judged = outcomes.get(d["number"], {})
        rows.append({
            "number": d["number"], "decided_at": d.get("decided_at"), "model_version": d.get("model_version"),
            "add": d.get("add", []), "top": d.get("top", []), "status": status, "reasons": d.get("reasons", []),
            "similar": d.get("similar", []), "assign": d.get("assign"),
            "outcomes": [{"verdict": f["verdict"], "label": label, "actor": f.get("actor"), "source": f.get("source")}
                         for label, f in sorted(judged.items())],
        })
    return rows


def _queues(s: Services, repo: str) -> dict[str, Any]:
    poison, _ = s.docs.newest(POISON, repo, "at", limit=5)
    depths = queue_depths(s)
    return {"depth": depths["depth"], "poison_depth": depths["poison"], "poison_messages": s.docs.count(POISON, repo),
            "poison_latest": [{"at": p.get("at"), "message": p.get("message")} for p in poison]}
