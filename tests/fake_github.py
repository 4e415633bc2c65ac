"""An in-memory GitHub for unit tests: the :class:`~triage.ports.github.GitHubApi` port over plain dicts.

Like the testbed of VS Code's triage actions, it keeps issues, their events, comments and files in
memory and records every call, so a use case can be exercised without HTTP. Integration tests use
the loopback HTTP server (``tests/github_server.py``) and the real client instead.

It behaves as GitHub does where the scraper depends on it: every change moves a clock one minute on and
stamps the issue's ``updated_at`` (and the event it creates); issues are listed least recently updated
first from an inclusive ``since`` with an ETag; the repository-wide events newest first; page-number paging
with any ``per_page`` up to 100. On demand, with the loopback server's names: :meth:`rename_repository`
(the old name is served as redirected), :meth:`transfer_issue` (unlisted; asking for it raises
:class:`IssueMoved`), :meth:`delete_issue` (unlisted, its events gone; asking answers 410),
:meth:`set_issues_enabled` (410 "Issues are disabled"), :meth:`close_issue`, :meth:`reopen_issue`.
``hooks`` run before every request with its call line: to change the world or fail between pages.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from triage.domain.errors import GitHubError, IssueMoved, IssuesDisabled
from triage.ports.github import PER_PAGE, Page

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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
    hooks: list[Callable[[str], None]] = field(default_factory=list)
    gone: dict[int, str | None] = field(default_factory=dict)  # number -> None (deleted) or "owner/name#n"
    old_names: set[str] = field(default_factory=set)
    issues_enabled: bool = True
    repo_id: int = 4242
    _ids: Any = field(default_factory=lambda: itertools.count(1000))
    _now: datetime = START

    # --- building the world -----------------------------------------------------------------------------------

    def tick(self) -> str:
        """The time of the next change: one minute after the last one."""
        self._now += timedelta(minutes=1)
        return stamp(self._now)

    def open_issue(self, title: str, body: str = "", labels: Sequence[str] = (), *, number: int | None = None,
                   state: str = "open", pull_request: bool = False, at: str | None = None) -> int:
        """Add an issue (labels applied by ``maintainer``) and return its number; ``at`` fixes its time."""
        number = number or max([*self.issues, *self.gone], default=0) + 1
        if at is None:
            at = self.tick()
        else:
            self._now = max(self._now, datetime.fromisoformat(at.replace("Z", "+00:00")))
        self.issues[number] = {
            "number": number, "title": title, "body": body, "state": state, "labels": [],
            "created_at": at, "updated_at": at, "user": {"login": "reporter", "type": "User"},
            "repository_url": f"https://api.github.com/repos/{self.repo}",
            **({"pull_request": {"url": f"https://api.github.com/repos/{self.repo}/pulls/{number}"}} if pull_request
               else {}),
        }
        for label in labels:
            self.label(number, label, "maintainer", at=at)
        return number

    def label(self, number: int, name: str, actor: str, actor_type: str = "User", action: str = "labeled",
              at: str | None = None) -> None:
        """A label change by ``actor``, as GitHub records it (the issue's labels, its event list, its time)."""
        at = at or self.tick()
        issue = self.issues[number]
        labels = issue["labels"]
        if action == "labeled" and all(label["name"] != name for label in labels):
            labels.append({"name": name})
        elif action == "unlabeled":
            labels[:] = [label for label in labels if label["name"] != name]
        issue["updated_at"] = at
        self.events.setdefault(number, []).append({
            "id": next(self._ids), "event": action, "label": {"name": name},
            "actor": {"login": actor, "type": actor_type}, "created_at": at})

    def edit_issue(self, number: int, title: str | None = None, body: str | None = None) -> None:
        issue = self.issues[number]
        issue.update({k: v for k, v in (("title", title), ("body", body)) if v is not None}, updated_at=self.tick())

    def close_issue(self, number: int, actor: str = "maintainer", reason: str = "completed") -> None:
        at = self.tick()
        self.issues[number].update(state="closed", state_reason=reason, updated_at=at)
        self.events.setdefault(number, []).append({"id": next(self._ids), "event": "closed",
                                                   "actor": {"login": actor, "type": "User"}, "created_at": at})

    def reopen_issue(self, number: int, actor: str = "maintainer") -> None:
        at = self.tick()
        self.issues[number].update(state="open", state_reason="reopened", updated_at=at)
        self.events.setdefault(number, []).append({"id": next(self._ids), "event": "reopened",
                                                   "actor": {"login": actor, "type": "User"}, "created_at": at})

    def delete_issue(self, number: int) -> None:
        """Delete an issue: no longer listed, its events gone from the repository's list, 410 when asked for."""
        self.issues.pop(number)
        self.gone[number] = None

    def transfer_issue(self, number: int, to_repo: str) -> int:
        """Transfer an issue to ``to_repo``: no longer listed here; asking for it raises :class:`IssueMoved`."""
        self.issues.pop(number)
        new_number = 5000 + number
        self.gone[number] = f"{to_repo.lower()}#{new_number}"
        return new_number

    def rename_repository(self, new_full_name: str) -> None:
        """Rename (or transfer) the repository: the old name still answers, as redirected."""
        self.old_names.add(self.repo.lower())
        self.repo = new_full_name

    def set_issues_enabled(self, enabled: bool) -> None:
        self.issues_enabled = enabled

    def truth(self) -> dict[int, dict[str, Any]]:
        """Every issue as it is now (not pull requests), with its label events, for comparing with a store."""
        return {n: {**i, "events": [e for e in self.events.get(n, []) if e["event"] in ("labeled", "unlabeled")]}
                for n, i in self.issues.items() if "pull_request" not in i}

    # --- the port ---------------------------------------------------------------------------------------------

    def _request(self, line: str, repo: str) -> bool:
        """Record the call, run the hooks; True if ``repo`` is an old name (the answer is redirected)."""
        self.calls.append(line)
        for hook in list(self.hooks):
            hook(line)
        if repo.lower() == self.repo.lower():
            return False
        if repo.lower() in self.old_names:
            return True
        raise GitHubError(f"GitHub answered 404 to {line}: Not Found", 404)

    def _check_enabled(self, line: str) -> None:
        if not self.issues_enabled:
            raise IssuesDisabled(f"GitHub answered 410 to {line}: Issues are disabled for this repo")

    def _issue(self, repo: str, number: int, line: str) -> dict[str, Any]:
        self._request(line, repo)
        self._check_enabled(line)
        if number in self.gone:
            moved = self.gone[number]
            if moved is None:
                raise GitHubError(f"GitHub answered 410 to {line}: This issue was deleted", 410)
            raise IssueMoved(f"{repo}#{number} was transferred to {moved}", moved)
        if number not in self.issues:
            raise GitHubError(f"GitHub answered 404 to {line}: Not Found", 404)
        return self.issues[number]

    def issues_page(self, repo: str, page: int, since: str | None = None, etag: str | None = None,
                    per_page: int = PER_PAGE) -> Page:
        line = f"GET /repos/{repo}/issues?page={page}&per_page={per_page}&since={since}"
        redirected = self._request(line, repo)
        self._check_enabled(line)
        items = sorted((i for i in self.issues.values() if not since or i["updated_at"] >= since),
                       key=lambda i: (i["updated_at"], i["number"]))
        size = min(PER_PAGE, max(1, per_page))
        chunk = [dict(i) for i in items[(page - 1) * size: page * size]]
        tag = '"' + hashlib.sha1(json.dumps([chunk, since, page, size], sort_keys=True).encode()).hexdigest() + '"'
        if etag == tag:
            return Page(304, [], etag, False, redirected=redirected)
        return Page(200, chunk, tag, page * size < len(items), redirected=redirected)

    def repo_events_page(self, repo: str, page: int, per_page: int = PER_PAGE) -> Page:
        line = f"GET /repos/{repo}/issues/events?page={page}&per_page={per_page}"
        redirected = self._request(line, repo)
        self._check_enabled(line)
        flat = sorted(({**e, "issue": {"number": n}} for n, events in self.events.items() if n in self.issues
                       for e in events), key=lambda e: -e["id"])
        size = min(PER_PAGE, max(1, per_page))
        chunk = flat[(page - 1) * size: page * size]
        return Page(200, chunk, None, page * size < len(flat), redirected=redirected)

    def issue_events(self, repo: str, number: int) -> list[dict[str, Any]]:
        self._issue(repo, number, f"GET /repos/{repo}/issues/{number}/events")
        return [dict(e) for e in self.events.get(number, [])]

    def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        return dict(self._issue(repo, number, f"GET /repos/{repo}/issues/{number}"))

    def repository(self, repo: str) -> dict[str, Any]:
        self._request(f"GET /repos/{repo}", repo)
        return {"id": self.repo_id, "full_name": self.repo, "has_issues": self.issues_enabled}

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        self._issue(repo, number, f"POST /repos/{repo}/issues/{number}/labels {list(labels)}")
        for name in labels:
            self.label(number, name, self.bot_login, "Bot")

    def add_assignees(self, repo: str, number: int, logins: Sequence[str]) -> list[str]:
        issue = self._issue(repo, number, f"POST /repos/{repo}/issues/{number}/assignees {list(logins)}")
        have = [user["login"] for user in issue.setdefault("assignees", [])]
        issue["assignees"] += [{"login": login, "type": "User"} for login in logins if login not in have]
        return [user["login"] for user in issue["assignees"]]

    def remove_label(self, repo: str, number: int, label: str) -> bool:
        issue = self._issue(repo, number, f"DELETE /repos/{repo}/issues/{number}/labels/{label}")
        if all(existing["name"] != label for existing in issue["labels"]):
            return False
        self.label(number, label, self.bot_login, "Bot", action="unlabeled")
        return True

    def repository_labels(self, repo: str) -> list[dict[str, Any]]:
        self._request(f"GET /repos/{repo}/labels", repo)
        names = sorted({label["name"] for issue in self.issues.values() for label in issue["labels"]})
        return [{"name": name, "description": None} for name in names]

    def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        self._request(f"GET /repos/{repo}/issues/{number}/comments", repo)
        return [dict(c) for c in self.comments.get(number, [])]

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        self._request(f"POST /repos/{repo}/issues/{number}/comments", repo)
        comment = {"id": next(self._ids), "body": body, "user": {"login": self.bot_login, "type": "Bot"}}
        self.comments.setdefault(number, []).append(comment)
        return dict(comment)

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        self._request(f"PATCH /repos/{repo}/issues/comments/{comment_id}", repo)
        for comment in itertools.chain.from_iterable(self.comments.values()):
            if comment["id"] == comment_id:
                comment["body"] = body
                return
        raise GitHubError(f"GitHub answered 404 to PATCH /repos/{repo}/issues/comments/{comment_id}", 404)

    def get_file(self, repo: str, path: str) -> str | None:
        self._request(f"GET /repos/{repo}/contents/{path}", repo)
        return self.files.get(path)
