"""Human label changes as feedback on the labeler's predictions, and the locks they set."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .labeler import PREDICTIONS
from .stores import DocumentStore

FEEDBACK = "feedback"
LOCKS = "locks"


def latest_prediction(docs: DocumentStore, repo: str, number: int) -> dict[str, Any] | None:
    """The most recent recorded decision for an issue, or None."""
    found = docs.query(PREDICTIONS, repo, number=number)
    return max(found, key=lambda d: d.get("decided_at", "")) if found else None


def verdict(prediction: dict[str, Any] | None, label: str, action: str) -> str:
    """How a human's ``labeled``/``unlabeled`` of ``label`` relates to the prediction.

    ``confirmed``: a human added a label the model predicted; ``corrected``: a human removed a
    predicted label, or added a different one where the model had added or proposed one;
    ``missed``: a human added a label where the model abstained; ``unrelated`` otherwise.
    """
    if prediction is None:
        return "unrelated"
    predicted = {a["label"] for a in prediction.get("add", [])}
    if action == "unlabeled":
        return "corrected" if label in predicted else "unrelated"
    if label in predicted:
        return "confirmed"
    return "corrected" if predicted else "missed"


def record_label_event(docs: DocumentStore, repo: str, number: int, label: str, action: str, actor: str,
                       at: str | None, delivery: str) -> dict[str, Any]:
    """Store a human label change as feedback and lock the label for the issue; return the feedback record."""
    prediction = latest_prediction(docs, repo, number)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = {
        "id": delivery, "repo": repo, "number": number, "label": label, "action": action, "actor": actor,
        "at": at or now, "verdict": verdict(prediction, label, action),
        "model_version": prediction.get("model_version") if prediction else None,
    }
    docs.upsert(FEEDBACK, record)
    docs.upsert(LOCKS, {"id": f"{number}:{label}", "repo": repo, "number": number, "label": label,
                        "state": "added" if action == "labeled" else "removed", "by": actor, "at": record["at"]})
    return record


def removed_labels(docs: DocumentStore, repo: str, number: int) -> frozenset[str]:
    """Labels a human removed from the issue (and has not re-added), per the locks."""
    return frozenset(d["label"] for d in docs.query(LOCKS, repo, number=number, state="removed"))
