"""Assignees and assignment events read from GitHub's REST objects (the issue and its issue events)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from triage.domain.assignments import AssignEvent, login_text
from triage.domain.errors import DataFormatError

GHOST = "ghost"  # GitHub shows a deleted account as "ghost" and may send its actor as null


def assignees_from_github(record: Mapping[str, Any]) -> list[str]:
    """The logins of an issue's current assignees (``assignees[].login``, else the single ``assignee``)."""
    found = record.get("assignees")
    if found is None:
        one = record.get("assignee")
        found = [] if one is None else [one]
    if not isinstance(found, list):
        raise DataFormatError(f"'assignees' of issue {str(record.get('number'))[:20]} must be a list of users")
    logins = []
    for user in found:
        if not isinstance(user, Mapping):
            raise DataFormatError(f"an assignee of issue {str(record.get('number'))[:20]} must be a user object")
        try:
            logins.append(login_text(user.get("login"), "assignees.login"))
        except ValueError as exc:
            raise DataFormatError(f"issue {str(record.get('number'))[:20]}: {exc}") from None
    return list(dict.fromkeys(logins))


def events_of(events: Sequence[Mapping[str, Any]], kinds: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """The issue events whose ``event`` is one of ``kinds``; :class:`DataFormatError` if the list is malformed."""
    if not isinstance(events, (list, tuple)):
        raise DataFormatError(f"'events' must be a list of issue events, got {type(events).__name__}")
    for event in events:
        if not isinstance(event, Mapping):
            raise DataFormatError(f"an issue event must be an object, got {type(event).__name__}")
    return [event for event in events if event.get("event") in kinds]


def assign_events_from_github(events: Sequence[Mapping[str, Any]]) -> tuple[AssignEvent, ...]:
    """The ``assigned``/``unassigned`` events among GitHub issue events, oldest first; ``via_app`` is the slug
    of the GitHub App that acted (``performed_via_github_app``). Events whose assignee was deleted are dropped."""
    found = []
    for event in events_of(events, ("assigned", "unassigned")):
        assignee, actor = _user(event, "assignee"), _user(event, "actor")
        app = _user(event, "performed_via_github_app")
        if assignee.get("login") is None:
            continue
        try:
            found.append(AssignEvent.from_dict({
                "action": event["event"], "assignee": assignee.get("login"), "actor": actor.get("login") or GHOST,
                "actor_type": actor.get("type") or "User", "at": event.get("created_at"), "via_app": app.get("slug")}))
        except ValueError as exc:
            raise DataFormatError(f"an {event['event']} event: {exc}") from None
    return tuple(sorted(found, key=lambda e: e.at or ""))


def _user(event: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = event.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DataFormatError(f"an issue event's {key!r} must be an object or null, got {type(value).__name__}")
    return value
