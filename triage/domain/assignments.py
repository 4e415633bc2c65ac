"""Assignment history: who (un)assigned whom on an issue, and which of those changes were human judgement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from triage.domain.timeline import made_by_bot, unknown_fields

AssignAction = Literal["assigned", "unassigned"]
ASSIGN_ACTIONS = ("assigned", "unassigned")
MAX_LOGIN = 100  # GitHub logins are at most 39 characters; bots add "[bot]" and managed users a suffix


@dataclass(frozen=True)
class AssignEvent:
    """One assignment change on an issue (GitHub issue events ``assigned``/``unassigned``)."""

    action: AssignAction
    assignee: str  # login of the person (un)assigned
    actor: str  # login of who did it
    actor_type: str = "User"  # "Bot" for bots
    at: str | None = None  # ISO time
    via_app: str | None = None  # performed_via_github_app slug, if any

    def is_bot(self, bot_login: str | None = None) -> bool:
        """True if a bot made the change (:func:`triage.domain.timeline.made_by_bot`)."""
        return made_by_bot(self.actor, self.actor_type, self.via_app, bot_login)

    @classmethod
    def from_dict(cls, data: Any) -> AssignEvent:
        """A stored event (``asdict`` of one), strict: raises ValueError naming the field and what it must be."""
        if not isinstance(data, Mapping):
            raise ValueError(f"an assignment event must be an object, got {type(data).__name__}")
        unknown = unknown_fields(data, cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"an assignment event has unknown field(s) {unknown}")
        action = data.get("action")
        if action not in ASSIGN_ACTIONS or not isinstance(action, str):
            raise ValueError(f"'assign_events.action' must be assigned or unassigned, got {str(action)[:40]!r}")
        return cls(action=action, assignee=login_text(data.get("assignee"), "assign_events.assignee"),  # type: ignore[arg-type]
                   actor=login_text(data.get("actor"), "assign_events.actor"),
                   actor_type=login_text(data.get("actor_type", "User"), "assign_events.actor_type"),
                   at=_iso(data.get("at")),
                   via_app=None if data.get("via_app") is None else login_text(data["via_app"], "assign_events.via_app"))


def login_text(value: Any, name: str) -> str:
    """``value`` if it is a plausible account name as GitHub reports one (printable text of 1 to
    :data:`MAX_LOGIN` characters); raise ValueError naming ``name`` otherwise. Lenient on purpose: it reads
    what GitHub sends (bots' ``name[bot]``), not what a person typed (see :mod:`triage.domain.routing_config`)."""
    if not isinstance(value, str):
        raise ValueError(f"{name!r} must be text (a GitHub login), got {type(value).__name__}")
    if not value or len(value) > MAX_LOGIN or not value.isprintable() or value != value.strip():
        raise ValueError(f"{name!r} holds {ascii(value[:60])}, which is not a GitHub login")
    return value


def _iso(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str) or not value.isascii() or len(value) > 40:
            raise ValueError
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'assign_events.at' {ascii(str(value)[:60])} is not an ISO 8601 timestamp such as "
                         "2024-05-01T12:00:00Z") from None
    return value


class HasAssignEvents(Protocol):
    """What the functions below read of an :class:`~triage.domain.issues.Issue`."""

    @property
    def assign_events(self) -> tuple[AssignEvent, ...]:
        """The issue's assignment history, oldest first."""
        ...


def human_assignments(issue: HasAssignEvents, bot_login: str | None = None) -> list[AssignEvent]:
    """The ``assigned`` events of ``issue`` made by humans (not bots, not GitHub Apps), oldest first."""
    return [e for e in issue.assign_events if e.action == "assigned" and not e.is_bot(bot_login)]


def human_touched(issue: HasAssignEvents, bot_login: str | None = None) -> bool:
    """True if a human ever (un)assigned anyone on ``issue``: routing then leaves it to them."""
    return any(not e.is_bot(bot_login) for e in issue.assign_events)
