"""Human assignment changes as feedback on the bot's owner routing, and live precision per assignee.

The bot's route is the ``assign`` field of the issue's decision record (:mod:`triage.app.routing`). A human
judges it:

* ``corrected``: a human unassigned the bot's pick, or assigned someone else while the pick is no longer on
  the issue (a reassignment);
* ``confirmed``: a human assigned the pick themselves, or the issue was closed by a human with the pick still
  assigned (kept to the end).

A human who adds a helper next to the pick judges nothing. The latest judgment wins (a human may change their
mind), by the event's time. Bots' and Apps' changes never judge (the webhook drops them first).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from triage.domain.assign_payloads import AssignChange
from triage.ports.records import PREDICTIONS, now_iso
from triage.ports.stores import DocumentStore

PAGE = 500
MAX_READ_FACTOR = 10  # decisions read per routed issue counted, at most (as live.py's window)


def routed_decision(docs: DocumentStore, repo: str, number: int) -> dict[str, Any] | None:
    """The newest decision record of the issue that routed it to someone, or None."""
    routed = [d for d in docs.query(PREDICTIONS, repo, number=number) if (d.get("assign") or {}).get("login")]
    return max(routed, key=lambda d: d.get("decided_at", "")) if routed else None


def judge_assignment(pick: str, change: AssignChange) -> str | None:
    """``confirmed``, ``corrected`` or None (the change says nothing about ``pick``); see the module docstring."""
    pick = pick.lower()
    event = change.event
    if event is None:  # closed
        return "confirmed" if pick in change.assignees else None
    assignee = event.assignee.lower()
    if event.action == "unassigned":
        return "corrected" if assignee == pick else None
    if assignee == pick:
        return "confirmed"
    return "corrected" if pick not in change.assignees else None


def record_assign_change(docs: DocumentStore, change: AssignChange, delivery: str) -> dict[str, Any] | None:
    """Judge the bot's route of ``change``'s issue and store the verdict on its decision record; the judgment, or
    None when the issue was not routed or the change does not concern the pick."""
    routed = routed_decision(docs, change.home, change.number)
    if routed is None:
        return None
    assign = dict(routed["assign"])
    verdict = judge_assignment(str(assign["login"]), change)
    if verdict is None:
        return None
    at = (change.event.at if change.event else None) or now_iso()
    if assign.get("judged_at") and str(assign["judged_at"]) > at and assign.get("judged_delivery") != delivery:
        return None  # an older change delivered late: the newer judgment stands
    actor = change.event.actor if change.event else change.actor
    judged = {"verdict": verdict, "judged_by": actor, "judged_at": at, "judged_delivery": delivery}
    docs.upsert(PREDICTIONS, {**routed, "assign": {**assign, **judged}})
    return {"repo": change.home, "number": change.number, "assignee": assign["login"], **judged}


def assignee_quality(docs: DocumentStore, repo: str, *, window_days: int = 30, max_routed: int = 500,
                     now: datetime | None = None) -> dict[str, Any]:
    """Per assignee over the issues routed in the last ``window_days`` (at most ``max_routed``, newest first, each
    issue once with its newest route): routed, confirmed, corrected and live precision; only routed decisions are
    read (``routed`` is set on them), newest first, never more than :data:`MAX_READ_FACTOR` x ``max_routed``."""
    now = now or datetime.now(timezone.utc)
    since = (now - timedelta(days=window_days)).isoformat(timespec="seconds")
    routes: dict[int, dict[str, Any]] = {}
    after: str | None = None
    budget = MAX_READ_FACTOR * max_routed
    while len(routes) < max_routed and budget > 0:
        found, after = docs.newest(PREDICTIONS, repo, "decided_at", limit=min(PAGE, budget), after=after, routed=True)
        budget -= len(found)
        if any(d["decided_at"] < since for d in found):
            found, after = [d for d in found if d["decided_at"] >= since], None
        for d in found:
            if (d.get("assign") or {}).get("login") and len(routes) < max_routed:
                routes.setdefault(d["number"], d["assign"])
        if after is None:
            break
    counts: dict[str, Counter[str]] = {}
    for assign in routes.values():
        tally = counts.setdefault(str(assign["login"]), Counter())
        tally["routed"] += 1
        tally["applied"] += bool(assign.get("applied"))
        if assign.get("verdict") in ("confirmed", "corrected"):
            tally[assign["verdict"]] += 1
    per_assignee = {login: {"routed": c["routed"], "applied": c["applied"], "confirmed": c["confirmed"],
                            "corrected": c["corrected"], "precision": _ratio(c["confirmed"], c["confirmed"] + c["corrected"])}
                    for login, c in sorted(counts.items())}
    confirmed = sum(c["confirmed"] for c in counts.values())
    judged = confirmed + sum(c["corrected"] for c in counts.values())
    return {"window_days": window_days, "routed": len(routes), "judged": judged,
            "precision": _ratio(confirmed, judged), "per_assignee": per_assignee}


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None
