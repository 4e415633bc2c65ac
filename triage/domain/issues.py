"""The Issue record: what the product knows about one GitHub issue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from triage.domain.errors import DataFormatError, InputError

REPO_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

LabelAction = Literal["labeled", "unlabeled"]


def check_repo(repo: str) -> str:
    """Return ``repo`` if it looks like ``owner/name``; raise :class:`InputError` otherwise."""
    if not isinstance(repo, str) or not REPO_PATTERN.match(repo):
        raise InputError(f"repository {repo!r} is not of the form owner/name (for example dotnet/corefx)")
    return repo


@dataclass(frozen=True)
class LabelEvent:
    """One ``labeled``/``unlabeled`` event from the issue's timeline."""

    label: str
    action: LabelAction
    actor: str | None = None
    actor_type: str | None = None  # "User" or "Bot" as GitHub reports it
    at: str | None = None

    def is_bot(self, bot_login: str | None = None) -> bool:
        """True if the event was made by a bot account (or by the product's own login)."""
        if self.actor_type == "Bot":
            return True
        if self.actor and self.actor.endswith("[bot]"):
            return True
        return bool(bot_login) and self.actor == bot_login


@dataclass(frozen=True)
class Issue:
    """A GitHub issue as the product stores it.

    ``label_events`` holds who applied or removed each label, when known; an empty tuple
    means the history is unknown and every current label is taken as human-applied.
    """

    repo: str
    number: int
    title: str
    body: str = ""
    labels: tuple[str, ...] = ()
    state: str = "open"
    created_at: str | None = None
    updated_at: str | None = None
    author: str | None = None
    author_association: str | None = None
    is_pull_request: bool = False
    label_events: tuple[LabelEvent, ...] = field(default_factory=tuple)

    def human_labels(self, bot_login: str | None = None) -> tuple[str, ...]:
        """Current labels whose last ``labeled`` event was not made by a bot."""
        last_added: dict[str, LabelEvent] = {}
        for event in self.label_events:
            if event.action == "labeled":
                last_added[event.label] = event
        return tuple(
            label for label in self.labels
            if label not in last_added or not last_added[label].is_bot(bot_login)
        )

    def removed_by_humans(self, bot_login: str | None = None) -> frozenset[str]:
        """Labels a human removed at some point and that are not on the issue now."""
        removed = {e.label for e in self.label_events if e.action == "unlabeled" and not e.is_bot(bot_login)}
        return frozenset(removed - set(self.labels))

    @property
    def sort_key(self) -> tuple[str, int]:
        """Chronological order: creation time when known, else the issue number (monotonic on GitHub)."""
        return (self.created_at or "", self.number)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the stored form)."""
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["label_events"] = [asdict(e) for e in self.label_events]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Issue:
        """Inverse of :meth:`to_dict`; raises :class:`DataFormatError` on a malformed record."""
        try:
            events = tuple(LabelEvent(**e) for e in data.get("label_events") or ())
            issue = cls(
                repo=check_repo(str(data["repo"])),
                number=int(data["number"]),
                title=str(data.get("title") or ""),
                body=str(data.get("body") or ""),
                labels=tuple(str(label) for label in data.get("labels") or ()),
                state=str(data.get("state") or "open"),
                created_at=_iso_or_none(data.get("created_at")),
                updated_at=_iso_or_none(data.get("updated_at")),
                author=data.get("author"),
                author_association=data.get("author_association"),
                is_pull_request=bool(data.get("is_pull_request", False)),
                label_events=events,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"malformed issue record ({exc!r}): {str(dict(data))[:200]}") from exc
        return issue


def _iso_or_none(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value)
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"timestamp {text!r} is not ISO 8601") from exc
    return text
