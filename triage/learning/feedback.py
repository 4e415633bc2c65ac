"""Human label changes as feedback on the labeler's predictions, the locks they set, and the review queue.

A feedback record judges one predicted label (``judged_label``): ``confirmed`` (a human kept
or added it), ``corrected`` (a human removed it, or applied a different label of the same
exclusive group), or ``missed`` (a human applied a label where the labeler had added nothing
of that group). The same records come from GitHub label events and from the dashboard's
review queue (``source``).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from triage.domain.errors import InputError, NotFoundError
from triage.domain.labels import NO_RENAMES, LabelNames
from triage.ports.records import FEEDBACK, LABELS, LOCKS, PREDICTIONS, Feedback, Lock, now_iso
from triage.ports.stores import DocumentStore

REVIEW_ACTIONS = {"confirm": "labeled", "reject": "unlabeled"}


def label_names(docs: DocumentStore, repo: str, configured: dict[str, str] | None = None) -> LabelNames:
    """The repository's renames and deleted labels as the ``label`` webhook events recorded them; the repository
    config's ``labels.aliases`` (``configured``) win over recorded renames."""
    records = docs.query(LABELS, repo)
    renames = {d["name"]: d["renamed_to"] for d in records if d.get("renamed_to")}
    return LabelNames({**renames, **(configured or {})}, frozenset(d["name"] for d in records if d.get("deleted")))


def latest_prediction(docs: DocumentStore, repo: str, number: int) -> dict[str, Any] | None:
    """The most recent recorded decision for an issue, or None."""
    found = docs.query(PREDICTIONS, repo, number=number)
    return max(found, key=lambda d: d.get("decided_at", "")) if found else None


def _same_group(prediction: dict[str, Any], a: str, b: str) -> bool:
    """Whether two labels exclude each other under the prediction's policy (single-label: all do)."""
    if prediction.get("single_label", True):
        return True
    return any(fnmatch.fnmatchcase(a, p) and fnmatch.fnmatchcase(b, p) for p in prediction.get("exclusive", ()))


def judge(prediction: dict[str, Any] | None, label: str, action: str,
          names: LabelNames = NO_RENAMES) -> tuple[str, str | None, float | None]:
    """(verdict, judged label, its score) for a human's ``labeled``/``unlabeled`` of ``label``.

    ``unrelated`` when there is no prediction or the change does not concern what was predicted.
    Names are compared as they are now (``names``): a prediction of ``area-Old`` is judged by a change
    of ``area-A`` once the label was renamed.
    """
    if prediction is None:
        return "unrelated", None, None
    label = names.current(label)
    predicted = {names.current(a["label"]): float(a["score"]) for a in prediction.get("add", [])}
    if action == "unlabeled":
        return ("corrected", label, predicted[label]) if label in predicted else ("unrelated", None, None)
    if label in predicted:
        return "confirmed", label, predicted[label]
    rival = next((p for p in predicted if _same_group(prediction, p, label)), None)
    if rival is not None:
        return "corrected", rival, predicted[rival]
    return "missed", label, None


def verdict(prediction: dict[str, Any] | None, label: str, action: str) -> str:
    """The verdict alone (see :func:`judge`)."""
    return judge(prediction, label, action)[0]


def record_label_event(docs: DocumentStore, repo: str, number: int, label: str, action: str, actor: str,
                       at: str | None, delivery: str, source: str = "github") -> dict[str, Any]:
    """Store a human label change as feedback and lock the label for the issue; return the feedback record."""
    prediction = latest_prediction(docs, repo, number)
    outcome, judged, score = judge(prediction, label, action, label_names(docs, repo))
    record = Feedback(id=delivery, repo=repo, number=number, label=label, action=action, actor=actor,
                      at=at or now_iso(), verdict=outcome, judged_label=judged, score=score, source=source,
                      model_version=prediction.get("model_version") if prediction else None).to_doc()
    docs.upsert(FEEDBACK, record)
    docs.upsert(LOCKS, Lock(id=f"{number}:{label}", repo=repo, number=number, label=label,
                            state="added" if action == "labeled" else "removed", by=actor, at=record["at"]).to_doc())
    return record


def record_review(docs: DocumentStore, repo: str, number: int, label: str, verdict: str, actor: str) -> dict[str, Any]:
    """A maintainer's confirm/reject of a predicted label, stored exactly like the GitHub label event it stands for.

    Raises :class:`InputError` for a verdict other than ``confirm``/``reject`` and
    :class:`NotFoundError` when the issue's latest prediction did not propose ``label``.
    """
    if verdict not in REVIEW_ACTIONS:
        raise InputError(f"review verdict must be one of {sorted(REVIEW_ACTIONS)}, got {verdict!r}")
    prediction = latest_prediction(docs, repo, number)
    if prediction is None or label not in {a["label"] for a in prediction.get("add", [])}:
        raise NotFoundError(f"issue #{number} of {repo} has no prediction of {label!r} to review")
    # One review per issue and label: reviewing again replaces the earlier verdict.
    return record_label_event(docs, repo, number, label, REVIEW_ACTIONS[verdict], actor, None,
                              delivery=f"review:{number}:{label}", source="review")


REVIEW_WINDOW = 5000  # the review queue looks at most at this many of the newest decisions


def review_queue(docs: DocumentStore, repo: str, limit: int = 50, window: int = REVIEW_WINDOW) -> list[dict[str, Any]]:
    """Predicted labels no human has judged yet, newest first (each issue's latest prediction that added labels).

    Decisions are read newest first, a page at a time, until ``limit`` are found or ``window`` decisions were
    read; the locks and feedback of just those issues are read with them, so the cost does not grow with the
    repository's history.
    """
    seen: set[int] = set()
    pending: list[dict[str, Any]] = []
    after: str | None = None
    read = 0
    while len(pending) < limit and read < window:
        found, after = docs.newest(PREDICTIONS, repo, "decided_at", limit=min(max(2 * limit, 100), window - read),
                                   after=after)
        read += len(found)
        fresh = [p for p in found if p.get("add") and p["number"] not in seen]
        latest = {p["number"]: p for p in reversed(fresh)}  # newest first: the first one per issue wins
        seen |= set(latest)
        numbers = sorted(latest)
        if numbers:
            done = {(lock["number"], lock["label"]) for lock in docs.query_in(LOCKS, repo, "number", numbers)}
            done |= {(f["number"], f.get("judged_label")) for f in docs.query_in(FEEDBACK, repo, "number", numbers)}
            pending += [{"number": p["number"], "label": a["label"], "score": float(a["score"]),
                         "model_version": p.get("model_version"), "decided_at": p.get("decided_at"),
                         "dry_run": bool(p.get("dry_run", True))}
                        for p in latest.values() for a in p["add"] if (p["number"], a["label"]) not in done]
        if after is None:
            break
    return sorted(pending, key=lambda r: (r["decided_at"] or "", r["number"]), reverse=True)[:limit]


def removed_labels(docs: DocumentStore, repo: str, number: int, names: LabelNames = NO_RENAMES) -> frozenset[str]:
    """Current names of the labels a human removed from the issue and has not re-added since, per the locks
    (a label removed under its old name stays removed after a rename)."""
    state: dict[str, str] = {}
    for lock in sorted(docs.query(LOCKS, repo, number=number), key=lambda d: d.get("at") or ""):
        state[names.current(lock["label"])] = lock["state"]
    return frozenset(label for label, last in state.items() if last == "removed")
