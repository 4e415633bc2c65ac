"""Shared builders for the unit tests (no fixtures: plain, typed functions)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from triage.domain.issues import Issue, LabelEvent

REPO = "octo/widgets"
BOT = "issue-triage[bot]"
_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)

# Words used to give every synthetic issue a distinct, non-boilerplate body.
_WORDS = (
    "socket", "timeout", "stream", "buffer", "encoding", "parser", "thread", "handle",
    "certificate", "header", "cookie", "proxy", "compression", "serializer", "reflection", "locale",
)


def timestamp(day: int, hour: int = 0) -> str:
    """An ISO 8601 UTC timestamp ``day`` days after 2020-01-01."""
    return (_EPOCH + timedelta(days=day, hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_issue(
    number: int,
    labels: Sequence[str] = (),
    *,
    title: str | None = None,
    body: str | None = None,
    repo: str = REPO,
    day: int | None = None,
    events: Sequence[LabelEvent] = (),
    is_pull_request: bool = False,
) -> Issue:
    """An issue with a unique title/body derived from ``number`` unless given."""
    word = _WORDS[number % len(_WORDS)]
    return Issue(
        repo=repo,
        number=number,
        title=title if title is not None else f"Problem {number} with the {word}",
        body=body if body is not None else f"When I use the {word} in scenario {number} it fails badly.",
        labels=tuple(labels),
        created_at=timestamp(day if day is not None else number),
        label_events=tuple(events),
        is_pull_request=is_pull_request,
    )


def labeled_by(label: str, actor: str, actor_type: str = "User", action: str = "labeled") -> LabelEvent:
    """A label event by ``actor``."""
    return LabelEvent(label=label, action=action, actor=actor, actor_type=actor_type)  # type: ignore[arg-type]


def corpus(per_label: dict[str, int], *, start: int = 1) -> list[Issue]:
    """Single-label issues, numbered from ``start``, labels interleaved so each label spans the whole timeline."""
    pending = {label: count for label, count in per_label.items()}
    issues: list[Issue] = []
    number = start
    while any(pending.values()):
        for label in per_label:
            if pending[label]:
                issues.append(make_issue(number, [label]))
                pending[label] -= 1
                number += 1
    return issues


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """Write ``records`` as JSON Lines (UTF-8) and return ``path``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@dataclass
class SureModel:
    """A stand-in classifier sure (``score``) of ``best``, the rest spread evenly over the other ``labels``; no
    lexical half, so no words behind a label."""

    best: str = "area-Net"
    labels: list[str] = field(default_factory=lambda: ["area-Net", "area-IO", "area-Meta"])
    score: float = 0.97
    single_label: bool = True
    version: str = "v1"

    @property
    def thresholds(self) -> dict[str, float]:
        return {label: 0.5 for label in self.labels}

    def evidence(self, title: str, body: str, label: str, k: int = 3) -> list[str]:
        return []

    def similar(self, title: str, body: str, label: str, number: int | None = None, k: int = 3) -> list[tuple[int, str]]:
        return []  # no stored past issues

    def scores(self, title: str, body: str) -> dict[str, float]:
        rest = (1 - self.score) / max(len(self.labels) - 1, 1)
        return {label: self.score if label == self.best else rest for label in self.labels}
