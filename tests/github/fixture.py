"""The bundled corefx issues as GitHub REST objects, with a deterministic history (events and comments)."""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.github.objects import (
    API_BASE,
    HOUR,
    HTML_BASE,
    MINUTE,
    START,
    comment_object,
    event_label,
    event_object,
    iso,
    issue_urls,
    label_object,
    node_id,
    user_object,
)

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_ISSUES = "data/corefx-area/issues.jsonl"
USERS: dict[str, str] = {  # fake issue authors -> author_association
    "alice-dev": "NONE",
    "bob-contrib": "CONTRIBUTOR",
    "carol-oss": "NONE",
    "dave-user": "FIRST_TIME_CONTRIBUTOR",
    "erin-net": "MEMBER",
}
MAINTAINERS: tuple[str, ...] = ("maintainer-a", "maintainer-b", "maintainer-c")
COMMENT_TEXTS: tuple[str, ...] = (
    "Thanks for the report, we will take a look.",
    "Can you share a minimal repro?",
    "I can reproduce this on the latest build.",
    "Moving to the next milestone.",
)


@dataclass
class FixtureRepo:
    """Issues of one repository as GitHub REST objects (URLs use ``https://api.github.com``).

    ``issues``: number -> issue, ascending number (= ascending created_at and updated_at);
    ``events``: number -> its events, oldest first (no ``issue`` key);
    ``repo_events``: every event, oldest first, each with an ``issue`` key (the issue object);
    ``labels``: name -> label object, by name; ``comments``: number -> its comments, oldest first.
    """

    repo: str
    bot_login: str
    issues: dict[int, dict[str, Any]]
    events: dict[int, list[dict[str, Any]]]
    repo_events: list[dict[str, Any]]
    labels: dict[str, dict[str, Any]]
    comments: dict[int, list[dict[str, Any]]]
    seed: int = 0

    @property
    def numbers(self) -> list[int]:
        """Issue numbers, ascending."""
        return list(self.issues)

    def label_names(self, number: int) -> list[str]:
        """Names of the issue's labels."""
        return [label["name"] for label in self.issues[number]["labels"]]


Pending = tuple[float, str, Callable[[int], dict[str, Any]]]  # (time, kind, build(event id))


def build_fixture(path: str | Path = DEFAULT_ISSUES, repo: str = "dotnet/corefx", limit: int | None = None,
                  bot_login: str = "issue-triage[bot]", seed: int = 0) -> FixtureRepo:
    """Read the bundled issues (relative paths are from the repository root) and make REST objects.

    Deterministic for a given ``seed``; each issue's extras depend only on (seed, repo, number),
    so ``limit`` (the ``limit`` lowest numbers) does not change the issues it keeps.
    """
    source = Path(path)
    if not source.is_absolute():
        source = ROOT / source
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [row for row in rows if row.get("repo", repo) == repo]
    rows.sort(key=lambda row: int(row["number"]))
    if limit is not None:
        rows = rows[:limit]

    issues: dict[int, dict[str, Any]] = {}
    events: dict[int, list[dict[str, Any]]] = {}
    comments: dict[int, list[dict[str, Any]]] = {}
    labels: dict[str, dict[str, Any]] = {}
    repo_events: list[dict[str, Any]] = []
    event_id, comment_id = 5_000_000_000, 700_000_000
    for rank, row in enumerate(rows):
        number = int(row["number"])
        rng = random.Random(f"{seed}:{repo}:{number}")
        created = START + rank * HOUR
        closed = rng.random() < 0.30
        is_pr = rng.random() < 0.05
        login = rng.choice(sorted(USERS))
        n_comments = rng.choice((0, 0, 1, 1, 2, 3))
        updated = created + rng.randint(25, 55) * MINUTE
        names = [str(name) for name in row.get("labels") or ()]
        issue_labels = []
        for name in names:
            if name not in labels:
                labels[name] = label_object(repo, name, description=f"{name} issues")
            issue_labels.append(copy.deepcopy(labels[name]))
        ident = 200_000_000 + number
        issue: dict[str, Any] = {
            **issue_urls(repo, number), "id": ident, "node_id": node_id("Issue", ident), "number": number,
            "title": row.get("title") or "", "user": user_object(login), "labels": issue_labels,
            "state": "closed" if closed else "open", "locked": False, "assignee": None, "assignees": [],
            "milestone": None, "comments": n_comments, "created_at": iso(created), "updated_at": iso(updated),
            "closed_at": iso(updated) if closed else None, "author_association": USERS[login],
            "active_lock_reason": None, "body": row.get("body") or "",
            "state_reason": "completed" if closed else None, "performed_via_github_app": None,
        }
        if is_pr:
            pulls = f"{repo}/pull/{number}"
            issue["pull_request"] = {"url": f"{API_BASE}/repos/{repo}/pulls/{number}",
                                     "html_url": f"{HTML_BASE}/{pulls}", "diff_url": f"{HTML_BASE}/{pulls}.diff",
                                     "patch_url": f"{HTML_BASE}/{pulls}.patch",
                                     "merged_at": None}
        issues[number] = issue
        pending: list[Pending] = []
        for index, name in enumerate(names):
            actor, label = user_object(rng.choice(MAINTAINERS)), event_label(labels[name])
            pending.append((created + (2 + index) * MINUTE, "labeled", lambda i, a=actor, lb=label: event_object(
                repo, i, "labeled", a, "", label=lb)))
        comments[number] = []
        for j in range(n_comments):
            comment_id += 1
            author = rng.choice(MAINTAINERS + (login,))
            at = iso(created + (10 + 4 * j) * MINUTE)
            comments[number].append(comment_object(repo, number, comment_id, rng.choice(COMMENT_TEXTS),
                                                   user_object(author), at,
                                                   "MEMBER" if author in MAINTAINERS else USERS[login]))
        # the rest of the history draws from its own generator, so the fields above stay as they always were
        pending += _history(random.Random(f"{seed}:{repo}:{number}:history"), repo, issue, created, updated, login,
                            is_pr)
        events[number] = []
        for at, _kind, build in sorted(pending, key=lambda item: item[0]):
            event_id += 1
            event = {**build(event_id), "created_at": iso(at)}
            events[number].append(event)
            repo_events.append({**event, "issue": issue})
    labels = dict(sorted(labels.items()))
    return FixtureRepo(repo, bot_login, issues, events, repo_events, labels, comments, seed)


def _history(rng: random.Random, repo: str, issue: dict[str, Any], created: int, updated: int, author: str,
             is_pr: bool) -> list[Pending]:
    """The issue's other events (renamed, assigned, mentioned, subscribed, referenced, closed, reopened).

    Sets the matching issue fields (assignees, ``state_reason``); every event falls between ``created``
    and ``updated`` (a final ``closed`` at ``updated`` = ``closed_at``).
    """
    out: list[Pending] = []
    people = {name: user_object(name) for name in MAINTAINERS}

    def add(at: float, kind: str, actor: dict[str, Any], **details: Any) -> None:
        """Queue an event of ``kind`` at epoch ``at``."""
        out.append((at, kind, lambda i: event_object(repo, i, kind, actor, "", **details)))

    if rng.random() < 0.10:
        title = issue["title"]
        before = title.lower() if title.lower() != title else f"[WIP] {title}"
        add(created + MINUTE, "renamed", user_object(author), rename={"from": before, "to": title})
    if rng.random() < 0.20:
        assignee, assigner = people[rng.choice(MAINTAINERS)], people[rng.choice(MAINTAINERS)]
        add(created + 20 * MINUTE, "assigned", assigner, assignee=assignee, assigner=assigner)
        issue["assignee"], issue["assignees"] = assignee, [assignee]
    if rng.random() < 0.10:
        mentioned = people[rng.choice(MAINTAINERS)]
        add(created + 21 * MINUTE, "mentioned", mentioned)
        add(created + 21 * MINUTE + 1, "subscribed", mentioned)
    if rng.random() < 0.10:
        sha = hashlib.sha1(f"{repo}:{issue['number']}".encode()).hexdigest()
        add(created + 22 * MINUTE, "referenced", people[rng.choice(MAINTAINERS)], commit_id=sha,
            commit_url=f"{API_BASE}/repos/{repo}/commits/{sha}")
    closer = people[rng.choice(MAINTAINERS)]
    reason = "not_planned" if not is_pr and rng.random() < 0.20 else "completed"
    if rng.random() < 0.15:  # closed once, then reopened
        add(created + 23 * MINUTE, "closed", closer, state_reason=reason)
        add(created + 24 * MINUTE, "reopened", user_object(author), state_reason="reopened")
        if issue["state"] == "open":
            issue["state_reason"] = "reopened"
    if issue["state"] == "closed":
        issue["state_reason"] = reason
        add(updated, "closed", closer, state_reason=reason)
    return out
