"""Who routed what: the training examples of the assignee model, from the human assignment history.

An issue's example is its *first human* assignee: the first ``assigned`` event made by a person (bots and
GitHub Apps are ignored, as for labels); where the history is unknown (no assignment events stored), its
first current assignee. People whose last such assignment is older than ``inactive_months`` before the
reference time have left the area and are dropped, so the model never routes to someone who moved on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from triage.domain.assignments import human_assignments
from triage.domain.issues import Issue

DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class Example:
    """One issue and the person a human first assigned it to."""

    issue: Issue
    assignee: str
    at: datetime | None  # when that assignment happened (or the issue was created), if known


@dataclass(frozen=True)
class History:
    """The usable examples, oldest issue first, and what was left out and why."""

    examples: list[Example]
    reference: datetime | None
    dropped_inactive: dict[str, str]  # login -> the last time a human assigned them
    bot_only: int  # issues that only bots or Apps assigned


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time as an aware datetime (UTC when no zone is given), or None."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def first_human_assignee(issue: Issue, bot_login: str | None = None) -> tuple[str, str | None] | None:
    """(login, time) of the first human assignment of ``issue``; its first current assignee when the history is
    unknown; None when nobody, or only bots and Apps, assigned it."""
    if issue.assign_events:
        human = human_assignments(issue, bot_login)
        return (human[0].assignee, human[0].at or issue.created_at) if human else None
    if issue.assignees:
        return issue.assignees[0], issue.created_at
    return None


def assignment_history(issues: Sequence[Issue], *, now: str | None = None, inactive_months: int = 6,
                       bot_login: str | None = None) -> History:
    """The examples of ``issues`` (pull requests and issues gone from GitHub left out), with people inactive for
    ``inactive_months`` before ``now`` (default: the newest assignment) dropped."""
    found: list[Example] = []
    bot_only = 0
    for issue in sorted(issues, key=lambda i: i.sort_key):
        if issue.is_pull_request or issue.gone:
            continue
        first = first_human_assignee(issue, bot_login)
        if first is None:
            bot_only += bool(issue.assign_events)
            continue
        login, at = first
        if login.endswith("[bot]") or login == bot_login:  # an automation assigned as the owner
            continue
        found.append(Example(issue, login, parse_time(at)))
    times = [e.at for e in found if e.at is not None]
    reference = parse_time(now) if now else (max(times) if times else None)
    last: dict[str, datetime] = {}
    for e in found:
        if e.at is not None and (e.assignee not in last or e.at > last[e.assignee]):
            last[e.assignee] = e.at
    dropped: dict[str, str] = {}
    if reference is not None:
        cutoff = reference - timedelta(days=DAYS_PER_MONTH * inactive_months)
        dropped = {who: when.isoformat() for who, when in sorted(last.items()) if when < cutoff}
    return History([e for e in found if e.assignee not in dropped], reference, dropped, bot_only)
