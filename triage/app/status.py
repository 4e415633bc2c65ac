"""What the app knows per repository, for ``GET /api/status`` and the dashboard, and the poison-message record.

Every read is bounded: counts come from the store, the newest runs and decisions through its ordered indexes,
so the status costs the same for a repository of 1,000 issues and one of 250,000 (see docs/scale.md).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.app.installations import served_repositories
from triage.app.learning_loop import thresholds_in_force
from triage.app.moves import current_name
from triage.app.repo_settings import config_error
from triage.data.scraper import cursor_status
from triage.learning.live import live_quality
from triage.learning.registry import read_pointer
from triage.learning.tuning import tuning_history
from triage.ports.layout import repo_of_pointer
from triage.ports.queues import LABEL_REQUESTS_POISON
from triage.ports.records import (
    FEEDBACK,
    ISSUES,
    MODELS,
    POISON,
    PREDICTIONS,
    RUNS,
    PoisonRecord,
)

RUN_FIELDS = ("id", "state", "dataset_version", "started_at", "ended_at", "detail", "reason")
RECENT_DECISIONS = 20  # decisions the status shows


def repositories(s: Services) -> list[str]:
    """The repositories served (``TRIAGE_REPOSITORIES``, else the App's installations) and those with a promoted
    model, sorted."""
    promoted = {repo for repo in map(repo_of_pointer, s.blobs.list("models/")) if repo}
    served = served_repositories(s.docs, s.app.repositories)
    return sorted({current_name(s.docs, repo) for repo in served} | promoted)


def recent_runs(s: Services, repo: str, limit: int) -> list[dict[str, Any]]:
    """The latest training runs, newest first."""
    runs, _ = s.docs.newest(RUNS, repo, "started_at", limit=limit)
    return [{k: r.get(k) for k in RUN_FIELDS} for r in runs]


def queue_depths(s: Services) -> dict[str, int]:
    """Messages waiting on the label-requests queue and on its poison queue."""
    return {"depth": s.queue.depth(), "poison": s.queue.depth(LABEL_REQUESTS_POISON)}


def live(s: Services, repo: str) -> dict[str, Any]:
    """Live precision and coverage with the app's window and target."""
    return live_quality(s.docs, repo, window_days=s.settings.live_window_days,
                        max_decisions=s.settings.live_window_decisions, target=s.settings.target_precision)


def status(s: Services) -> dict[str, Any]:
    """Everything ``GET /api/status`` shows, per repository."""
    return {"repositories": {repo: repo_status(s, repo) for repo in repositories(s)}, "queue": queue_depths(s),
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def repo_status(s: Services, repo: str) -> dict[str, Any]:
    """One repository's model, scrape, runs, decisions, live quality and tuning."""
    pointer, _ = read_pointer(s.blobs, repo)
    model = None
    if pointer:
        record = s.docs.get(MODELS, repo, pointer["version"]) or {}
        promoted = datetime.fromisoformat(pointer["promoted_at"])
        in_force = thresholds_in_force(s, repo, pointer["version"])
        model = {"version": pointer["version"], "promoted_at": pointer["promoted_at"],
                 "age_hours": round((datetime.now(timezone.utc) - promoted) / timedelta(hours=1), 1),
                 "metrics": record.get("gate_scores", {}).get("candidate") or record.get("metrics"),
                 "thresholds": in_force[0] if in_force else None}
    predictions, _ = s.docs.newest(PREDICTIONS, repo, "decided_at", limit=RECENT_DECISIONS)
    quality = live(s, repo)
    return {
        "model": model,
        "scrape": cursor_status(s.docs, repo),
        "stored_issues": s.docs.count(ISSUES, repo),
        "training_runs": list(reversed(recent_runs(s, repo, 10))),
        "recent_decisions": [{k: d.get(k) for k in ("number", "add", "abstained", "reasons", "model_version",
                                                    "decided_at", "dry_run")} for d in predictions],
        "live": {k: v for k, v in quality.items() if k != "series"},
        "tuning": tuning_history(s.docs, repo, limit=10),
        "feedback": s.docs.count(FEEDBACK, repo),
        "poison_messages": s.docs.count(POISON, repo),
        "config_error": config_error(s.docs, repo),
    }


def record_poison(s: Services, text: str) -> dict[str, Any]:
    """Keep a message that failed too often, for the status page, and report it."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        body = {"raw": text[:2000]}
    repo = str(body.get("repo") or "_unknown") if isinstance(body, dict) else "_unknown"
    doc = PoisonRecord(id=hashlib.sha256(text.encode()).hexdigest()[:32], repo=repo, message=body).to_doc()
    s.docs.upsert(POISON, doc)
    telemetry.event("PoisonMessage", repo=repo, message=text[:500])
    telemetry.count("triage.poison", 1, repo=repo)
    return doc
