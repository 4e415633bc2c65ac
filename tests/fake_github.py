"""An in-memory GitHub for unit tests: the :class:`~triage.ports.github.GitHubApi` port over plain dicts.

Like the testbed of VS Code's triage actions, it keeps issues, their events, comments and files in
memory and records every call, so a use case can be exercised without HTTP. Integration tests use
the loopback HTTP server (``tests/github_server.py``) and the real client instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from triage.domain.errors import GitHubError
from triage.ports.github import Page

PER_PAGE = 100


@dataclass
class FakeGitHub:
    """One repository's issues as GitHub's REST API would return them; ``calls`` records every request."""

    repo: str
    bot_login: str = "issue-triage[bot]"
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1000))

    # --- building the world -----------------------------------------------------------------------------------

    def open_issue(self, title: str, body: str = "", labels: Sequence[str] = (), *, number: int | None = None,
                   state: str = "open", pull_request: bool = False, at: str = "2026-01-01T00:00:00Z") -> int:
        """Add an issue (labels applied by ``maintainer``) and return its number."""
        number = number or max(self.issues, default=0) + 1
        self.issues[number] = {
            "number": number, "title": title, "body": body, "state": state, "labels": [],
            "created_at": at, "updated_at": at, "user": {"login": "reporter", "type": "User"},
            "repository_url": f"https://api.github.com/repos/{self.repo}",
            **({"pull_request": {"url": f"https://api.github.com/repos/{self.repo}/pulls/{number}"}} if pull_request
               else {}),
        }
        for label in labels:
            self.label(number, label, "maintainer")
        return number

    def label(self, number: int, name: str, actor: str, actor_type: str = "User", action: str = "labeled") -> None:
        """A label change by ``actor``, as GitHub records it (the issue's labels and its event list)."""
        labels = self.issues[number]["labels"]
        if action == "labeled" and all(label["name"] != name for label in labels):
            labels.append({"name": name})
        elif action == "unlabeled":
            labels[:] = [label for label in labels if label["name"] != name]
        self.events.setdefault(number, []).append({
            "id": next(self._ids), "event": action, "label": {"name": name},
            "actor": {"login": actor, "type": actor_type}, "created_at": "2026-01-02T00:00:00Z"})

    # --- the port ---------------------------------------------------------------------------------------------

    def _issue(self, repo: str, number: int) -> dict[str, Any]:
        if repo != self.repo or number not in self.issues:
            raise GitHubError(f"GitHub answered 404 to GET /repos/{repo}/issues/{number}: Not Found", 404)
        return self.issues[number]

    def issues_page(self, repo: str, page: int, since: str | None = None, etag: str | None = None) -> Page:
        self.calls.append(f"GET /repos/{repo}/issues?page={page}")
        items = [i for _, i in sorted(self.issues.items()) if not since or i["updated_at"] >= since]
        chunk = items[(page - 1) * PER_PAGE: page * PER_PAGE]
        return Page(200, [dict(i) for i in chunk], None, page * PER_PAGE < len(items))

    def repo_events_page(self, repo: str, page: int) -> Page:
        self.calls.append(f"GET /repos/{repo}/issues/events?page={page}")
        flat = sorted(({**e, "issue": {"number": n}} for n, events in self.events.items() for e in events),
                      key=lambda e: -e["id"])
        chunk = flat[(page - 1) * PER_PAGE: page * PER_PAGE]
        return Page(200, chunk, None, page * PER_PAGE < len(flat))

    def issue_events(self, repo: str, number: int) -> list[dict[str, Any]]:
        self.calls.append(f"GET /repos/{repo}/issues/{number}/events")
        self._issue(repo, number)
        return [dict(e) for e in self.events.get(number, [])]

    def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        self.calls.append(f"GET /repos/{repo}/issues/{number}")
        return dict(self._issue(repo, number))

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        self.calls.append(f"POST /repos/{repo}/issues/{number}/labels {list(labels)}")
        self._issue(repo, number)
        for name in labels:
            self.label(number, name, self.bot_login, "Bot")

    def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        self.calls.append(f"GET /repos/{repo}/issues/{number}/comments")
        return [dict(c) for c in self.comments.get(number, [])]

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        self.calls.append(f"POST /repos/{repo}/issues/{number}/comments")
        comment = {"id": next(self._ids), "body": body, "user": {"login": self.bot_login, "type": "Bot"}}
        self.comments.setdefault(number, []).append(comment)
        return dict(comment)

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        self.calls.append(f"PATCH /repos/{repo}/issues/comments/{comment_id}")
        for comment in itertools.chain.from_iterable(self.comments.values()):
            if comment["id"] == comment_id:
                comment["body"] = body
                return
        raise GitHubError(f"GitHub answered 404 to PATCH /repos/{repo}/issues/comments/{comment_id}", 404)

    def get_file(self, repo: str, path: str) -> str | None:
        self.calls.append(f"GET /repos/{repo}/contents/{path}")
        return self.files.get(path)
