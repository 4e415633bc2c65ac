"""Train, store and load the learned assignee model of a repository.

The model is one blob, ``models/{repo}/assignees/{version}.npz``, with a small pointer document beside it
(``models/{repo}/assignees/latest.json``: the version and its held-out metrics), written last so that a
reader never finds a pointer to a missing model. Unlike the label model there is no promotion gate: routing
acts only above per-person thresholds picked on the newest held-out assignments.
"""

from __future__ import annotations

import json
from typing import Any

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.data.ingest import iter_issues
from triage.domain.errors import DataFormatError, EmptyDatasetError, NotFoundError
from triage.ml.assignees import AssigneeModel, fit_assignees

TARGET_PRECISION = 0.8


def assignee_model_name(repo: str, version: str) -> str:
    """The blob of one assignee model version."""
    return f"models/{repo}/assignees/{version}.npz"


def assignee_pointer_name(repo: str) -> str:
    """The blob naming the repository's latest assignee model."""
    return f"models/{repo}/assignees/latest.json"


def train_assignees(s: Services, repo: str, *, target_precision: float = TARGET_PRECISION,
                    inactive_months: int = 6, now: str | None = None) -> dict[str, Any]:
    """Fit the assignee model on ``repo``'s stored issues and store it; returns ``{"trained": True, "version",
    "metrics"}``, or ``{"trained": False, "reason"}`` (nothing stored) when there are not enough human
    assignments to learn from."""
    issues = [issue for issue in iter_issues(s.docs, repo) if issue.assignees or issue.assign_events]  # the rest teach nothing
    try:
        with telemetry.span("assignees.train", repo=repo):
            model, metrics = fit_assignees(issues, now=now, inactive_months=inactive_months,
                                           target_precision=target_precision, bot_login=s.settings.bot_login)
    except EmptyDatasetError as exc:
        telemetry.event("AssigneeModelSkipped", repo=repo, reason=str(exc)[:300])
        return {"trained": False, "repo": repo, "reason": str(exc)}
    s.blobs.put(assignee_model_name(repo, model.version), model.to_bytes())
    summary = {k: v for k, v in metrics.items() if k != "per_assignee"}
    pointer = {"version": model.version, "assignees": model.assignees, "metrics": summary}
    s.blobs.put(assignee_pointer_name(repo), json.dumps(pointer).encode())
    telemetry.event("AssigneeModelTrained", repo=repo, model=model.version, accuracy=metrics["accuracy"],
                    coverage=metrics["coverage"], assignees=len(model.assignees))
    return {"trained": True, "repo": repo, "version": model.version, "metrics": metrics}


def load_assignee_model(s: Services, repo: str) -> AssigneeModel | None:
    """The repository's latest assignee model, or None if none was trained (callers cache it)."""
    try:
        pointer = json.loads(s.blobs.get(assignee_pointer_name(repo)))
    except NotFoundError:
        return None
    except ValueError:
        raise DataFormatError(f"{assignee_pointer_name(repo)} is not JSON: run train_assignees for {repo} "
                              "again") from None
    version = pointer.get("version") if isinstance(pointer, dict) else None
    if not isinstance(version, str):
        raise DataFormatError(f"{assignee_pointer_name(repo)} names no version: run train_assignees for {repo} again")
    return AssigneeModel.from_bytes(s.blobs.get(assignee_model_name(repo, version)))
