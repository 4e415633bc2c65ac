"""Where a labeling batch's writes go: GitHub, or (dry run) a record of the exact calls it would make.

The prediction comment is written at most once per issue, also under retries and concurrent workers:
a worker claims the issue's comment with an atomic create in the document store (the deliveries
container, which holds claims on work) before it posts,
records the comment's id after, and everyone else edits that comment (or, while the claim is fresh
and has no id yet, leaves it to the worker that holds it). A claim left by a crashed worker is taken
over after :data:`CLAIM_SECONDS`; the taker first looks for the comment on GitHub.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import quote

from triage.app.markdown import similar_lines
from triage.domain.errors import GitHubError
from triage.domain.policy import Decision
from triage.ports.github import GitHubApi
from triage.ports.records import DELIVERIES, now_iso
from triage.ports.stores import DocumentStore

log = logging.getLogger(__name__)
COMMENT_MARKER = "<!-- issue-triage:prediction -->"
CLAIM_SECONDS = 300


class LabelWriter(Protocol):
    """Adds labels and writes the prediction comment (or records that it would)."""

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """``POST /repos/{repo}/issues/{number}/labels`` with ``labels``."""
        ...

    def remove_label(self, repo: str, number: int, label: str) -> None:
        """``DELETE /repos/{repo}/issues/{number}/labels/{label}`` (a label already gone is no error)."""
        ...

    def comment(self, repo: str, number: int, body: str, existing: int | None) -> int | None:
        """Post the prediction comment, or replace the body of comment ``existing``; the comment's id."""
        ...

    def add_assignees(self, repo: str, number: int, logins: Sequence[str]) -> list[str]:
        """``POST /repos/{repo}/issues/{number}/assignees`` with ``logins``; the assignees after it."""
        ...


class GitHubWriter:
    """A :class:`LabelWriter` that writes to GitHub, one call per change."""

    def __init__(self, api: GitHubApi) -> None:
        self.api = api

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Add the labels in one call (adding a label an issue has is a no-op on GitHub: retries are safe)."""
        self.api.add_labels(repo, number, list(labels))

    def remove_label(self, repo: str, number: int, label: str) -> None:
        """Remove one label; one that is already gone is fine (a retry, or a human was quicker)."""
        self.api.remove_label(repo, number, label)

    def comment(self, repo: str, number: int, body: str, existing: int | None) -> int | None:
        """Create the comment, or edit it in place."""
        if existing is not None:
            try:
                self.api.edit_comment(repo, existing, body)
                return existing
            except GitHubError as exc:
                if exc.status != 404:
                    raise  # a maintainer deleted the comment: post it again
        return int(self.api.create_comment(repo, number, body)["id"])

    def add_assignees(self, repo: str, number: int, logins: Sequence[str]) -> list[str]:
        """Assign in one call (assigning someone already assigned is a no-op on GitHub: retries are safe)."""
        return self.api.add_assignees(repo, number, list(logins))


@dataclass
class DryRunWriter:
    """Shadow mode: records and logs the exact GitHub calls instead of making them."""

    calls: list[str] = field(default_factory=list)

    def _log(self, call: str) -> None:
        self.calls.append(call)
        log.info("dry run: would call %s", call)

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Record ``POST /repos/{repo}/issues/{number}/labels`` with its body."""
        self._log(f"POST /repos/{repo}/issues/{number}/labels {json.dumps({'labels': list(labels)})}")

    def remove_label(self, repo: str, number: int, label: str) -> None:
        """Record ``DELETE /repos/{repo}/issues/{number}/labels/{label}`` (the name URL-encoded, as sent)."""
        self._log(f"DELETE /repos/{repo}/issues/{number}/labels/{quote(label, safe='')}")

    def comment(self, repo: str, number: int, body: str, existing: int | None) -> int | None:
        """Record the comment's POST or PATCH."""
        self._log(f"POST /repos/{repo}/issues/{number}/comments" if existing is None
                  else f"PATCH /repos/{repo}/issues/comments/{existing}")
        return existing

    def add_assignees(self, repo: str, number: int, logins: Sequence[str]) -> list[str]:
        """Record ``POST /repos/{repo}/issues/{number}/assignees`` with its body."""
        self._log(f"POST /repos/{repo}/issues/{number}/assignees {json.dumps({'assignees': list(logins)})}")
        return list(logins)


def comment_body(decision: Decision) -> str:
    """The prediction comment: the top-3 labels and their confidences, what was applied and the words behind it
    (:func:`~triage.app.serving.with_evidence`; they are word tokens, safe in code spans)."""
    lines = [COMMENT_MARKER, "**Label suggestions** (from this repository's history):", ""]
    lines += [f"- `{label}`: {score:.0%}" for label, score in decision.top[:3]]
    if decision.add:
        lines += ["", f"Applied: {', '.join(f'`{label}`' for label, _ in decision.add)}."]
        for label, _ in decision.add:
            why = next((r.split(": because of ", 1)[1] for r in decision.reasons
                        if r.startswith(f"{label}: because of ")), None)
            if why:
                lines.append(f"- `{label}` because of {why.replace(chr(39), '`')}")
            lines += similar_lines(decision.repo, label, [(n, title) for known, n, title in decision.similar
                                                          if known == label])
    return "\n".join(lines)


def _ours(api: GitHubApi, repo: str, number: int, bot_login: str) -> list[dict[str, Any]]:
    return [c for c in api.list_comments(repo, number)
            if COMMENT_MARKER in (c.get("body") or "") and (c.get("user") or {}).get("login") == bot_login]


def upsert_comment(api: GitHubApi, docs: DocumentStore, writer: LabelWriter, repo: str, number: int, body: str,
                   bot_login: str, dry_run: bool, now: datetime | None = None) -> None:
    """Write ``body`` as the issue's one prediction comment (see the module docstring)."""
    if dry_run:  # nothing is written, so nothing to claim
        mine = _ours(api, repo, number, bot_login)
        if not (mine and mine[0].get("body") == body):
            writer.comment(repo, number, body, int(mine[0]["id"]) if mine else None)
        return
    now = now or datetime.now(timezone.utc)
    claim_id = f"comment:{number}"
    claim = {"id": claim_id, "repo": repo, "number": number, "comment_id": None, "at": now.isoformat()}
    if not docs.create(DELIVERIES, claim):
        held = docs.get(DELIVERIES, repo, claim_id) or {}
        fresh = now - datetime.fromisoformat(held.get("at") or now.isoformat()) < timedelta(seconds=CLAIM_SECONDS)
        if held.get("comment_id") is None and fresh:
            log.info("another worker is writing the comment of %s#%d; leaving it to it", repo, number)
            return
        claim = {**held, "at": now.isoformat()}
    comment_id = claim.get("comment_id")
    if comment_id is None:  # a new claim, or one a crashed worker left: the comment may exist already
        mine = _ours(api, repo, number, bot_login)
        comment_id = int(mine[0]["id"]) if mine else None
        if mine and mine[0].get("body") == body:
            docs.upsert(DELIVERIES, {**claim, "comment_id": comment_id, "written_at": now_iso()})
            return
    try:
        written = writer.comment(repo, number, body, comment_id) if body != claim.get("body") else comment_id
    except Exception:
        if comment_id is None:  # release the claim: the retry looks on GitHub first, so a comment that was
            docs.delete(DELIVERIES, repo, claim_id)  # created despite the error is found, not posted twice
        raise
    docs.upsert(DELIVERIES, {**claim, "comment_id": written, "body": body, "written_at": now_iso()})
