"""The Issue record: what the product knows about one GitHub issue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from triage.domain.errors import DataFormatError, InputError

# GitHub's rules: an owner (user or organisation) has 1-39 letters, digits or single inner hyphens (managed
# users add "_" and a short code); a repository name has 1-100 letters, digits, "-", "_" or "." and is not
# "." or "..". Names are case-insensitive on GitHub, so the product keys every repository by its lower case.
OWNER_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:_[A-Za-z0-9]{1,20})?$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")

LabelAction = Literal["labeled", "unlabeled"]


def check_repo(repo: object) -> str:
    """``repo`` as the product keys it (``owner/name`` in lower case) if it follows GitHub's naming rules;
    raise :class:`InputError` otherwise. Every entry point (HTTP, webhook, queue, timers, CLI) calls this."""
    owner, _, name = repo.partition("/") if isinstance(repo, str) else ("", "", "")
    if not (OWNER_PATTERN.match(owner) and NAME_PATTERN.match(name) and name not in (".", "..")
            and len(repo) <= 141):  # type: ignore[arg-type]
        shown = repr(repo)[:80]
        raise InputError(f"repository {shown} is not a GitHub repository name: use owner/name, for example "
                         "dotnet/runtime (owner: letters, digits and single hyphens; name: letters, digits, '-', "
                         "'_' and '.')")
    return str(repo).lower()


@dataclass(frozen=True)
class LabelEvent:
    """One ``labeled``/``unlabeled`` event from the issue's timeline."""

    label: str
    action: LabelAction
    actor: str | None = None
    actor_type: str | None = None  # "User" or "Bot" as GitHub reports it
    at: str | None = None
    via_app: str | None = None  # slug of the GitHub App that made the change on the actor's behalf

    def is_bot(self, bot_login: str | None = None) -> bool:
        """True if a bot made the change: a bot account, the product's own login, or a GitHub App acting for a
        user (``performed_via_github_app``): an automation's label is not a maintainer's judgement."""
        if self.actor_type == "Bot" or self.via_app:
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
    gone: str | None = None  # "deleted" or "transferred": no longer on GitHub here; kept, never learned from

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
                gone=data.get("gone"),
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
