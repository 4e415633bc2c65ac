"""The Issue record: what the product knows about one GitHub issue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from triage.domain.assignments import AssignEvent, login_text
from triage.domain.errors import DataFormatError, InputError
from triage.domain.timeline import made_by_bot, unknown_fields

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
    if not (OWNER_PATTERN.fullmatch(owner) and NAME_PATTERN.fullmatch(name) and name not in (".", "..")
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

    @classmethod
    def from_dict(cls, data: Any) -> LabelEvent:
        """A stored event (``asdict`` of one), strict like :meth:`Issue.from_dict`; raises ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a label event must be an object, got {_kind(data)}")
        unknown = unknown_fields(data, cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"a label event has unknown field(s) {unknown}")
        return cls(label=label_name(data.get("label"), "label_events.label"),
                   action=_choice(data.get("action") or "", "label_events.action", ("labeled", "unlabeled"), None),
                   actor=_text(data.get("actor"), "label_events.actor", optional=True),
                   actor_type=_text(data.get("actor_type"), "label_events.actor_type", optional=True),
                   at=_iso_or_none(data.get("at"), "label_events.at"),
                   via_app=_text(data.get("via_app"), "label_events.via_app", optional=True))

    def is_bot(self, bot_login: str | None = None) -> bool:
        """True if a bot made the change (:func:`triage.domain.timeline.made_by_bot`)."""
        return made_by_bot(self.actor, self.actor_type, self.via_app, bot_login)


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
    assignees: tuple[str, ...] = ()  # current assignees' logins
    assign_events: tuple[AssignEvent, ...] = ()  # assignment history; empty: unknown
    paths: tuple[str, ...] = ()  # a pull request's changed files (new and previous names), when fetched

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
        data["assignees"] = list(self.assignees)
        data["assign_events"] = [asdict(e) for e in self.assign_events]
        data["paths"] = list(self.paths)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Issue:
        """Inverse of :meth:`to_dict`, strict: every field must have its type and range (no silent coercion:
        ``1.5``, ``"1"`` and ``true`` are not issue numbers, a list is not a title). Keys it does not know are
        ignored. Raises :class:`DataFormatError` naming the issue, the field and what it must be."""
        if not isinstance(data, Mapping):
            raise DataFormatError(f"an issue record must be an object, got {_kind(data)}")
        number = data.get("number")
        where = f"issue {number}" if _is_number(number) else "an issue"
        try:
            if not _is_number(number):
                raise ValueError(f"'number' must be a whole number from 1 to {MAX_ISSUE_NUMBER:,}, got {_shown(number)}")
            try:
                repo = check_repo(data.get("repo"))
            except InputError as exc:
                raise ValueError(f"'repo': {exc}") from None
            labels = data.get("labels") or ()
            if not isinstance(labels, (list, tuple)):
                raise ValueError(f"'labels' must be a list of label names, got {_kind(labels)}")
            events = data.get("label_events") or ()
            if not isinstance(events, (list, tuple)):
                raise ValueError(f"'label_events' must be a list, got {_kind(events)}")
            assignees, assigned = data.get("assignees") or (), data.get("assign_events") or ()
            if not isinstance(assignees, (list, tuple)) or not isinstance(assigned, (list, tuple)):
                raise ValueError("'assignees' and 'assign_events' must be lists")
            pull = data.get("is_pull_request", False)
            if not isinstance(pull, bool):
                raise ValueError(f"'is_pull_request' must be true or false, got {_shown(pull)}")
            return cls(
                repo=repo, number=number, title=_text(data.get("title"), "title"),
                body=_text(data.get("body"), "body", optional=True) or "",
                labels=tuple(label_name(label, "labels") for label in labels),
                state=_choice(data.get("state"), "state", STATES, "open"),
                created_at=_iso_or_none(data.get("created_at"), "created_at"),
                updated_at=_iso_or_none(data.get("updated_at"), "updated_at"),
                author=_text(data.get("author"), "author", optional=True),
                author_association=_text(data.get("author_association"), "author_association", optional=True),
                is_pull_request=pull,
                label_events=tuple(LabelEvent.from_dict(event) for event in events),
                gone=_choice(data.get("gone"), "gone", GONE, None),
                assignees=tuple(login_text(login, "assignees") for login in assignees),
                assign_events=tuple(AssignEvent.from_dict(event) for event in assigned),
                paths=_paths(data.get("paths")),
            )
        except ValueError as exc:
            raise DataFormatError(f"{where}: {exc}") from None


MAX_ISSUE_NUMBER = 2**31 - 1  # GitHub's issue numbers are 32-bit
MAX_LABEL = 200
STATES = ("open", "closed")
GONE = ("deleted", "transferred")
MAX_PATHS = 6000  # GitHub lists at most 3,000 files of a pull request; a rename adds its previous name
MAX_PATH = 4096


def _kind(value: Any) -> str:
    return "nothing" if value is None else {bool: "true/false", str: "text", dict: "an object", list: "a list",
                                            float: "a fraction", int: "a number"}.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    """A value for an error message: short scalars as written, anything else by its kind."""
    if isinstance(value, (bool, float)) or (isinstance(value, int) and abs(value) < 10**30) or \
            (isinstance(value, str) and len(value) <= 60):
        return ascii(value)
    return _kind(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ISSUE_NUMBER


def _text(value: Any, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name!r} must be text, got {_kind(value)}")
    if "\x00" in value:
        raise ValueError(f"{name!r} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name!r} is not valid Unicode (a lone surrogate such as \\ud800)") from None
    return value


def _paths(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or len(value) > MAX_PATHS:
        raise ValueError(f"'paths' must be a list of at most {MAX_PATHS} file paths, got {_kind(value)}")
    for item in value:
        text = _text(item, "paths")
        if not text or len(text) > MAX_PATH:
            raise ValueError(f"'paths' holds {_shown(item)}, which is not a file path (1 to {MAX_PATH} characters)")
    return tuple(value)


def label_name(value: Any, name: str = "label") -> str:
    """``value`` if it is a label name: printable text of 1 to :data:`MAX_LABEL` characters, not blank."""
    text = _text(value, name)
    assert text is not None
    if not text.strip() or len(text) > MAX_LABEL or not text.isprintable():
        raise ValueError(f"{name!r} holds {_shown(text)}, which is not a label name (printable, not blank, at most "
                         f"{MAX_LABEL} characters)")
    return text


def _choice(value: Any, name: str, choices: tuple[str, ...], default: str | None) -> Any:
    if value is None:
        return default
    if value not in choices or not isinstance(value, str):
        raise ValueError(f"{name!r} must be one of {', '.join(choices)}, got {_shown(value)}")
    return value


def _iso_or_none(value: Any, name: str = "timestamp") -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name!r} must be an ISO 8601 timestamp, got {_kind(value)}")
    try:
        if not value.isascii() or len(value) > 40:
            raise ValueError
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name!r} {_shown(value)} is not an ISO 8601 timestamp such as 2024-05-01T12:00:00Z") from None
    return value
