"""Live quality: how often the labeler is right, per label, measured from human feedback.

The window is the issues decided in the last ``window_days`` (at most the newest
``max_decisions``), each counted once with its latest decision; it is read newest first through the
store's index, so its cost depends on ``max_decisions``, not on the repository's history. For a label:

* ``applied``: decisions that added (or, in dry run, would have added) it;
* ``precision``: confirmed / (confirmed + corrected) over those a human judged;
* ``coverage``: of the issues a human gave the label (confirmed, or added where the
  labeler abstained or chose another label), the share the labeler had labeled so itself.

``series`` holds, per label and for all labels (``__all__``), the precision over the
trailing seven days at each day a judgment arrived, for charts.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

from triage.ports.records import FEEDBACK, JUDGED, PREDICTIONS, arrival
from triage.ports.stores import DocumentStore

ALL = "__all__"
TRAILING_DAYS = 7
PAGE = 500  # decisions per read of the window
MAX_READ_FACTOR = 10  # the window reads at most this many decisions per issue it counts (re-decided issues)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def latest_judgments(feedback: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last judged feedback per issue, judged label and verdict kind (a human may change their mind)."""
    latest: dict[tuple[int, str, bool], dict[str, Any]] = {}
    for f in sorted(feedback, key=arrival):
        if f.get("verdict") in JUDGED and f.get("judged_label"):
            # confirmed/corrected judge the prediction; missed records a label the labeler did not give
            latest[(f["number"], f["judged_label"], f["verdict"] == "missed")] = f
    return list(latest.values())


def window_decisions(docs: DocumentStore, repo: str, since: str, max_decisions: int) -> list[dict[str, Any]]:
    """The latest decision of each of the (at most ``max_decisions``) most recently decided issues decided at or
    after ``since``, newest first.

    Read newest first through the store's index, a page at a time, and never more than
    :data:`MAX_READ_FACTOR` x ``max_decisions`` documents: the cost does not grow with the repository's history.
    """
    latest: dict[int, dict[str, Any]] = {}
    after: str | None = None
    budget = MAX_READ_FACTOR * max_decisions
    while len(latest) < max_decisions and budget > 0:
        found, after = docs.newest(PREDICTIONS, repo, "decided_at", limit=min(PAGE, budget), after=after)
        budget -= len(found)
        for p in found:
            if p["decided_at"] < since:
                return list(latest.values())
            latest.setdefault(p["number"], p)  # newest first: the first decision seen is the latest
            if len(latest) >= max_decisions:
                break
        if after is None:
            break
    return list(latest.values())


def live_quality(docs: DocumentStore, repo: str, *, window_days: int = 30, max_decisions: int = 500,
                 target: float = 0.9, now: datetime | None = None) -> dict[str, Any]:
    """Live precision and coverage of ``repo``'s labeler, overall and per label (see the module docstring)."""
    now = now or datetime.now(timezone.utc)
    since = (now - timedelta(days=window_days)).isoformat(timespec="seconds")
    decisions = window_decisions(docs, repo, since, max_decisions)
    numbers = sorted({p["number"] for p in decisions})
    applied = Counter(a["label"] for p in decisions for a in p.get("add", []))
    judgments = latest_judgments(docs.query_in(FEEDBACK, repo, "number", numbers)) if numbers else []

    confirmed, corrected, missed = Counter(), Counter(), Counter()
    for f in judgments:
        {"confirmed": confirmed, "corrected": corrected, "missed": missed}[f["verdict"]][f["judged_label"]] += 1
        if f["verdict"] == "corrected" and f.get("action") == "labeled":
            missed[f["label"]] += 1  # the human's label is one the labeler did not give
    labels = sorted(set(applied) | set(confirmed) | set(corrected) | set(missed))
    per_label = {label: {
        "applied": applied[label], "confirmed": confirmed[label], "corrected": corrected[label], "missed": missed[label],
        "precision": _ratio(confirmed[label], confirmed[label] + corrected[label]),
        "coverage": _ratio(confirmed[label], confirmed[label] + missed[label]),
    } for label in labels}
    judged = sum(confirmed.values()) + sum(corrected.values())
    labeled = sum(1 for p in decisions if p.get("add"))
    return {
        "window_days": window_days, "max_decisions": max_decisions, "since": since, "target": target,
        "decisions": len(decisions), "labeled": labeled, "coverage": _ratio(labeled, len(decisions)),
        "judged": judged, "precision": _ratio(sum(confirmed.values()), judged),
        "per_label": per_label, "series": _series(judgments),
    }


def _series(judgments: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    points: dict[str, list[tuple[date, bool]]] = {}
    for f in judgments:
        if f["verdict"] in ("confirmed", "corrected"):
            day = datetime.fromisoformat(f["at"].replace("Z", "+00:00")).date()
            for key in (f["judged_label"], ALL):
                points.setdefault(key, []).append((day, f["verdict"] == "confirmed"))
    series: dict[str, list[dict[str, Any]]] = {}
    for key, items in points.items():
        series[key] = []
        for day in sorted({d for d, _ in items}):
            window = [ok for d, ok in items if day - timedelta(days=TRAILING_DAYS) < d <= day]
            series[key].append({"day": day.isoformat(), "precision": round(sum(window) / len(window), 4),
                                "judged": len(window)})
    return series
