"""The ``issues`` deliveries that judge the bot's assignments: ``assigned``, ``unassigned`` and ``closed``.

Read strictly like the rest of :mod:`triage.domain.payloads`: only the fields used, each checked for type and
length, a refusal naming the field. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from triage.domain.assignments import AssignAction, AssignEvent
from triage.domain.payload_fields import (
    PayloadError,
    absent,
    issue_number,
    lookup,
    name,
    optional_app,
    optional_time,
    read,
    repo_name,
    shown,
)

ASSIGN_ACTIONS = ("assigned", "unassigned")
MAX_ASSIGNEES = 100  # GitHub allows 10 per issue; a longer list is not GitHub's


@dataclass(frozen=True)
class AssignChange:
    """Someone (un)assigned a person on ``home#number`` (``event``), or closed it (``event`` None); ``assignees``:
    the issue's assignees after the change, lower-cased."""

    home: str
    number: int
    event: AssignEvent | None
    assignees: tuple[str, ...]
    actor: str = ""  # who made the change (the sender)
    actor_type: str = "User"
    via_app: str | None = None

    def is_bot(self, bot_login: str | None = None) -> bool:
        """Whether a bot or an App made the change (the rule of :meth:`AssignEvent.is_bot`)."""
        return AssignEvent("assigned", "-", self.actor, self.actor_type, None, self.via_app).is_bot(bot_login)


def read_assign_change(p: Mapping[str, Any], action: str) -> AssignChange | None:
    """The change an ``issues.assigned``/``unassigned``/``closed`` delivery records; None for an (un)assignment
    without an assignee (a deleted account) or a closed issue without assignees (read no further: nothing to do)."""
    assignees = read(p, "issue.assignees", logins)
    if action == "closed" and not assignees:
        return None
    home, number = read(p, "repository.full_name", repo_name), read(p, "issue.number", issue_number)
    actor, kind = read(p, "sender.login", name), read(p, "sender.type", name)
    app = read(p, "issue.performed_via_github_app", optional_app)
    if action == "closed":
        return AssignChange(home, number, None, assignees, actor, kind, app)
    if absent(lookup(p, "assignee")):
        return None
    event = AssignEvent(action=cast(AssignAction, action), assignee=read(p, "assignee.login", name), actor=actor,
                        actor_type=kind, at=read(p, "issue.updated_at", optional_time), via_app=app)
    return AssignChange(home, number, event, assignees, actor, kind, app)


def logins(field: str, value: Any) -> tuple[str, ...]:
    """A list of user objects as lower-cased logins, () when absent or null."""
    if absent(value):
        return ()
    if not isinstance(value, list) or len(value) > MAX_ASSIGNEES:
        raise PayloadError(f"{field} must be a list of at most {MAX_ASSIGNEES} users (got {shown(value)})", field)
    found = []
    for i, user in enumerate(value):
        if not isinstance(user, dict):
            raise PayloadError(f"{field}[{i}] must be a user object (got {shown(user)})", f"{field}[{i}]")
        found.append(name(f"{field}[{i}].login", user.get("login")).lower())
    return tuple(found)
