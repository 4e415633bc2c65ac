"""One repository's state (issues, events, comments, labels, files) and the changes GitHub records events for.

Objects are stored with canonical URLs (``https://api.github.com``); a rename or a transfer rewrites them.
Callers hold the server's lock.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from tests.github.fixture import FixtureRepo
from tests.github.objects import (
    bot_app,
    comment_object,
    event_label,
    event_object,
    iso,
    issue_urls,
    label_object,
    move_urls,
    node_id,
)

CLOSE_REASONS = ("completed", "not_planned", "duplicate")


class Invalid(ValueError):
    """A request GitHub would refuse with 422; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str = "", resource: str = "Issue", code: str = "invalid") -> None:
        super().__init__(message)
        self.message, self.field, self.resource, self.code = message, field, resource, code


class World:
    """What the repositories of one server share: the mutation clock, id counters and the App behind bots."""

    def __init__(self, mtime: int, event_id: int, comment_id: int, bot_login: str, app: dict[str, Any]) -> None:
        self.mtime, self.event_id, self.comment_id = mtime, event_id, comment_id
        self.bot_login, self.app = bot_login, app

    def tick(self) -> str:
        """The next mutation's time: one minute after the previous one."""
        self.mtime += 60
        return iso(self.mtime)

    def next_event_id(self) -> int:
        """A new event id."""
        self.event_id += 1
        return self.event_id

    def next_comment_id(self) -> int:
        """A new comment id."""
        self.comment_id += 1
        return self.comment_id

    def app_for(self, actor: dict[str, Any]) -> dict[str, Any] | None:
        """``performed_via_github_app`` of a change by ``actor``: the App of a ``Bot``, None for people."""
        if actor.get("type") != "Bot":
            return None
        return copy.deepcopy(self.app) if actor["login"] == self.bot_login else bot_app(actor["login"])


class Repository:
    """Issues (with pull requests), their events and comments, labels and files of one repository."""

    def __init__(self, world: World, name: str, ident: int, private: bool = False) -> None:
        self.world, self.name, self.id, self.private = world, name, ident, private
        self.old_names: list[str] = []  # renamed from: requests there are redirected
        self.issues: dict[int, dict[str, Any]] = {}
        self.events: dict[int, list[dict[str, Any]]] = {}
        self.repo_events: list[tuple[int, dict[str, Any]]] = []  # (number, event), oldest first
        self.labels: dict[str, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.issue_comments: dict[int, list[int]] = {}
        self.files: dict[str, str] = {}
        self.pull_files: dict[int, list[dict[str, Any]]] = {}  # a pull request's changed files (diff entries)
        self.gone: dict[int, str | tuple[int, int]] = {}  # "deleted" or (repository id, number) it moved to
        self.issues_enabled = True
        self.last_number = 0
        self.issue_id_base = 200_000_000  # issue ids are this + number (the fixture's rule)

    @classmethod
    def from_fixture(cls, world: World, fixture: FixtureRepo, ident: int, private: bool = False) -> Repository:
        """The fixture's repository, deep-copied."""
        repo = cls(world, fixture.repo, ident, private)
        repo.issues = copy.deepcopy(fixture.issues)
        repo.events = {n: copy.deepcopy(fixture.events.get(n, [])) for n in repo.issues}
        repo.repo_events = sorted(((n, e) for n, evs in repo.events.items() for e in evs), key=lambda i: i[1]["id"])
        repo.labels = copy.deepcopy(fixture.labels)
        repo.issue_comments = {n: [] for n in repo.issues}
        for number, items in fixture.comments.items():
            for comment in items:
                repo.comments[comment["id"]] = copy.deepcopy(comment)
                repo.issue_comments.setdefault(number, []).append(comment["id"])
        repo.last_number = max(repo.issues, default=0)
        return repo

    # ------------------------------------------------------------------ reading

    def issue(self, number: int) -> dict[str, Any]:
        """The stored issue; KeyError if it is not (or no longer) here."""
        return self.issues[number]

    def issue_comment_list(self, number: int) -> list[dict[str, Any]]:
        """Comments of one issue, oldest first."""
        return [self.comments[c] for c in self.issue_comments.get(number, [])]

    def timeline(self, number: int) -> list[dict[str, Any]]:
        """Events and ``commented`` items of one issue, oldest first."""
        items = [(e["created_at"], e["id"], e) for e in self.events.get(number, [])]
        items += [(c["created_at"], c["id"], {**c, "event": "commented", "actor": c["user"]})
                  for c in self.issue_comment_list(number)]
        return [item for _, _, item in sorted(items, key=lambda t: (t[0], t[1]))]

    # ------------------------------------------------------------------ changes

    def label(self, name: str) -> dict[str, Any]:
        """The repository's label ``name``, created (color ``ededed``) if it does not exist."""
        if name not in self.labels:
            self.labels[name] = label_object(self.name, name, color="ededed")
        return self.labels[name]

    def record(self, number: int, kind: str, actor: dict[str, Any], at: str, **details: Any) -> dict[str, Any]:
        """Append an event of ``kind`` to the issue (and to the repository's list)."""
        event = event_object(self.name, self.world.next_event_id(), kind, actor, at, self.world.app_for(actor),
                             **details)
        self.events.setdefault(number, []).append(event)
        self.repo_events.append((number, event))
        return event

    def open_issue(self, title: str, body: str, user: dict[str, Any], labels: Iterable[str],
                   association: str) -> dict[str, Any]:
        """A new issue with the next number; ``labels`` are applied by its author (``labeled`` events)."""
        self.last_number = max(self.last_number, *self.issues, *self.gone, 0) + 1
        number, at = self.last_number, self.world.tick()
        ident = self.issue_id_base + number
        issue = {**issue_urls(self.name, number), "id": ident, "node_id": node_id("Issue", ident), "number": number,
                 "title": title, "user": user, "labels": [], "state": "open", "locked": False, "assignee": None,
                 "assignees": [], "milestone": None, "comments": 0, "created_at": at, "updated_at": at,
                 "closed_at": None, "author_association": association, "active_lock_reason": None, "body": body,
                 "state_reason": None, "performed_via_github_app": self.world.app_for(user)}
        self.issues[number], self.events[number], self.issue_comments[number] = issue, [], []
        for name in dict.fromkeys(labels):
            issue["labels"].append(copy.deepcopy(self.label(name)))
            self.record(number, "labeled", user, at, label=event_label(self.labels[name]))
        return issue

    def edit(self, number: int, actor: dict[str, Any], title: str | None = None, body: str | None = None,
             state: str | None = None, reason: str | None = None) -> dict[str, Any]:
        """Change title, body and state as one mutation (``renamed``, ``closed``, ``reopened`` events).

        Everything is checked before anything changes: an Invalid leaves the issue as it was."""
        issue = self.issues[number]
        if title is not None and (not isinstance(title, str) or not title.strip() or len(title) > 256):
            raise Invalid("title must be a non-empty string of at most 256 characters", "title")
        if body is not None and (not isinstance(body, str) or len(body) > 65536):
            raise Invalid("body must be a string of at most 65536 characters", "body")
        target = self._check_state(issue, state, reason)
        at = self.world.tick()
        if title is not None and title != issue["title"]:
            self.record(number, "renamed", actor, at, rename={"from": issue["title"], "to": title})
            issue["title"] = title
        if body is not None:
            issue["body"] = body
        if target is not None:
            new_state, new_reason = target
            if new_state != issue["state"]:
                issue.update(state=new_state, closed_at=at if new_state == "closed" else None)
                self.record(number, new_state if new_state == "closed" else "reopened", actor, at,
                            state_reason=new_reason)
            issue["state_reason"] = new_reason
        issue["updated_at"] = at
        return issue

    @staticmethod
    def _check_state(issue: dict[str, Any], state: Any, reason: Any) -> tuple[str, str] | None:
        """(state, state_reason) that the change leads to, None if it does not touch the state."""
        if state is None and reason is None:
            return None
        state = issue["state"] if state is None else state
        if state not in ("open", "closed"):
            raise Invalid(f"state must be 'open' or 'closed', not {state!r:.60}", "state")
        if state == "closed":
            reason = reason or "completed"
            if reason not in CLOSE_REASONS:
                raise Invalid(f"state_reason of a closed issue must be one of {', '.join(CLOSE_REASONS)}, "
                              f"not {reason!r:.60}", "state_reason")
            return "closed", reason
        if reason not in (None, "reopened"):
            raise Invalid(f"state_reason of an open issue can only be 'reopened', not {reason!r:.60}", "state_reason")
        return "open", "reopened" if issue["state"] == "closed" else issue["state_reason"]

    def add_labels(self, number: int, names: Sequence[str], actor: dict[str, Any]) -> list[str]:
        """Add the labels the issue lacks (``labeled`` events, one mutation); return their names."""
        issue = self.issues[number]
        have = {label["name"] for label in issue["labels"]}
        new = [name for name in dict.fromkeys(names) if name not in have]
        if new:
            at = self.world.tick()
            for name in new:
                issue["labels"].append(copy.deepcopy(self.label(name)))
                self.record(number, "labeled", actor, at, label=event_label(self.labels[name]))
            issue["updated_at"] = at
        return new

    def remove_label(self, number: int, name: str, actor: dict[str, Any]) -> bool:
        """Remove ``name`` (an ``unlabeled`` event); False if the issue did not have it."""
        issue = self.issues[number]
        removed = next((label for label in issue["labels"] if label["name"] == name), None)
        if removed is None:
            return False
        at = self.world.tick()
        issue["labels"] = [label for label in issue["labels"] if label["name"] != name]
        self.record(number, "unlabeled", actor, at, label=event_label(removed))
        issue["updated_at"] = at
        return True

    def replace_labels(self, number: int, names: Sequence[str], actor: dict[str, Any]) -> None:
        """Make the labels exactly ``names`` (``unlabeled`` then ``labeled`` events)."""
        for label in list(self.issues[number]["labels"]):
            if label["name"] not in names:
                self.remove_label(number, label["name"], actor)
        self.add_labels(number, names, actor)

    def add_comment(self, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        """A new comment by ``user``; the issue's ``comments`` and ``updated_at`` move."""
        issue, at = self.issues[number], self.world.tick()
        association = "NONE" if user["type"] == "Bot" else "MEMBER" if user["login"] != issue["user"]["login"] \
            else issue["author_association"]
        comment = comment_object(self.name, number, self.world.next_comment_id(), body, user, at, association,
                                 self.world.app_for(user))
        self.comments[comment["id"]] = comment
        self.issue_comments.setdefault(number, []).append(comment["id"])
        issue["comments"] += 1
        issue["updated_at"] = at
        return comment

    def rename(self, new_name: str) -> None:
        """Take ``new_name``; the old name redirects; stored URLs follow."""
        old = self.name
        self.old_names = [n for n in self.old_names if n.lower() != new_name.lower()] + [old]
        self.name = new_name
        self.issues = move_urls(self.issues, old, new_name)
        self.events = move_urls(self.events, old, new_name)
        self.repo_events = [(n, e) for n, evs in self.events.items() for e in evs]
        self.repo_events.sort(key=lambda item: item[1]["id"])
        self.comments = {int(k): v for k, v in move_urls(self.comments, old, new_name).items()}
        self.labels = move_urls(self.labels, old, new_name)

    def remove_issue(self, number: int, gone: str | tuple[int, int]) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                                             list[dict[str, Any]]]:
        """Take the issue out (deleted or transferred): (issue, its events, its comments)."""
        issue = self.issues.pop(number)
        events = self.events.pop(number, [])
        self.repo_events = [(n, e) for n, e in self.repo_events if n != number]
        comments = [self.comments.pop(c) for c in self.issue_comments.pop(number, [])]
        self.gone[number] = gone
        return issue, events, comments

    def receive_issue(self, issue: dict[str, Any], events: list[dict[str, Any]], comments: list[dict[str, Any]],
                      source: str, actor: dict[str, Any]) -> int:
        """Take in an issue transferred from ``source``: a new number, its comments and history, and a
        ``transferred`` event; labels this repository does not have are dropped, as GitHub does."""
        self.last_number = max(self.last_number, *self.issues, *self.gone, 0) + 1
        number, at = self.last_number, self.world.tick()
        moved = move_urls(issue, source, self.name)
        moved.update(issue_urls(self.name, number), number=number, updated_at=at)
        moved["labels"] = [copy.deepcopy(self.labels[label["name"]]) for label in moved["labels"]
                           if label["name"] in self.labels]
        self.issues[number] = moved
        self.events[number] = move_urls(events, source, self.name)
        self.repo_events += [(number, e) for e in self.events[number]]
        self.issue_comments[number] = []
        for comment in move_urls(comments, source, self.name):
            comment.update(issue_url=issue_urls(self.name, number)["url"],
                           html_url=f"{issue_urls(self.name, number)['html_url']}#issuecomment-{comment['id']}")
            self.comments[comment["id"]] = comment
            self.issue_comments[number].append(comment["id"])
        self.record(number, "transferred", actor, at)
        self.repo_events.sort(key=lambda item: item[1]["id"])
        return number
