"""What tests read from the GitHub test server and change on demand, as GitHub users and admins would.

Reads take an optional ``repo`` (a full name, default: the primary repository, the fixture's).  Changes
record the events GitHub records and move ``updated_at``; the real-world ones (renames, transfers,
deletions, disabled issues) make the API answer 301 and 410 as GitHub does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from tests.github import assign_handlers as assignees
from tests.github import pull_handlers as pulls
from tests.github.objects import user_object
from tests.github.repository import Repository, World

OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


def check_full_name(full_name: str) -> str:
    """``owner/name`` by GitHub's rules, else ValueError naming the rule."""
    owner, _, name = full_name.partition("/") if isinstance(full_name, str) else ("", "", "")
    if not OWNER.fullmatch(owner) or not NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"{full_name!r:.120} is not a repository name: 'owner/name', the owner 1-39 letters, digits "
                         "or single hyphens, the name 1-100 letters, digits, '.', '-' or '_'")
    return full_name


class StateAPI:
    """Reading and changing issues; mixed into :class:`tests.github.server.GitHubServer`."""

    _lock: threading.RLock
    primary: Repository
    _repos: dict[int, Repository]
    world: World

    def _render(self, obj: Any) -> Any:
        raise NotImplementedError

    def _new_repo_id(self, name: str) -> int:
        raise NotImplementedError

    def _named(self, repo: str | None) -> Repository:
        if repo is None:
            return self.primary
        found = next((r for r in self._repos.values() if r.name.lower() == repo.lower()), None)
        if found is None:
            raise KeyError(f"no repository {repo!r} on this server (known: {sorted(r.name for r in self._repos.values())})")
        return found

    # ------------------------------------------------------------------ reading

    def repositories(self) -> list[str]:
        """Full names of every repository the server knows (the primary one first)."""
        with self._lock:
            return [r.name for r in self._repos.values()]

    def repository_id(self, repo: str | None = None) -> int:
        """The id of a repository (default: the primary one)."""
        with self._lock:
            return self._named(repo).id

    def issue(self, number: int, repo: str | None = None) -> dict[str, Any]:
        """The issue as the API would render it now (a copy); KeyError if absent (or deleted, or transferred)."""
        with self._lock:
            return self._render(self._named(repo).issue(number))

    def issue_numbers(self, repo: str | None = None) -> list[int]:
        """Numbers of the issues there now, ascending."""
        with self._lock:
            return sorted(self._named(repo).issues)

    def events(self, number: int | None = None, repo: str | None = None) -> list[dict[str, Any]]:
        """Events of one issue (oldest first), or of the repository (oldest first, with ``issue``)."""
        with self._lock:
            state = self._named(repo)
            if number is not None:
                return self._render(state.events[number])
            return [self._render({**e, "issue": state.issues[n]}) for n, e in state.repo_events]

    def timeline(self, number: int, repo: str | None = None) -> list[dict[str, Any]]:
        """The issue's timeline: events and ``commented`` items, oldest first."""
        with self._lock:
            return self._render(self._named(repo).timeline(number))

    def comments(self, number: int, repo: str | None = None) -> list[dict[str, Any]]:
        """Comments of one issue as the API would render them, oldest first."""
        with self._lock:
            return self._render(self._named(repo).issue_comment_list(number))

    def labels(self, repo: str | None = None) -> list[dict[str, Any]]:
        """The repository's labels."""
        with self._lock:
            return self._render(list(self._named(repo).labels.values()))

    def set_file(self, path: str, text: str) -> None:
        """Make ``GET /repos/{repo}/contents/{path}`` return ``text``."""
        with self._lock:
            self.primary.files[path.strip("/")] = text

    def delete_file(self, path: str) -> None:
        """Make ``GET /repos/{repo}/contents/{path}`` answer 404 again."""
        with self._lock:
            self.primary.files.pop(path.strip("/"), None)

    # ------------------------------------------------------------------ everyday changes

    def open_issue(self, title: str, body: str = "", user: str = "new-reporter", labels: Sequence[str] = (),
                   actor_type: str = "User", author_association: str = "NONE") -> dict[str, Any]:
        """Open a new issue (next number); ``labels`` are applied by its author (``labeled`` events)."""
        with self._lock:
            return self._render(self.primary.open_issue(title, body, user_object(user, actor_type), labels,
                                                        author_association))

    def open_pull_request(self, title: str, body: str = "", files: Sequence[str | tuple[str, str]] = (),
                          user: str = "new-contributor", draft: bool = False,
                          author_association: str = "CONTRIBUTOR") -> dict[str, Any]:
        """Open a pull request (the next number) changing ``files`` (paths, or (new, previous) for a rename);
        ``GET /pulls/{number}/files`` lists them."""
        with self._lock:
            return self._render(pulls.open_pull_request(self.primary, title, body, user_object(user), files, draft,
                                                         author_association))

    def ready_for_review(self, number: int) -> dict[str, Any]:
        """Mark the draft pull request ``number`` ready for review."""
        with self._lock:
            return self._render(pulls.mark_ready(self.primary, number))

    def edit_issue(self, number: int, title: str | None = None, body: str | None = None, state: str | None = None,
                   state_reason: str | None = None, actor: str | None = None,
                   actor_type: str = "User") -> dict[str, Any]:
        """Edit as ``actor`` (default: the author): a new title records ``renamed``; a new state ``closed`` or
        ``reopened``.  ValueError (``Invalid``) for a blank title or an unknown state or reason."""
        with self._lock:
            issue = self.primary.issue(number)
            who = user_object(actor, actor_type) if actor else issue["user"]
            return self._render(self.primary.edit(number, who, title, body, state, state_reason))

    def close_issue(self, number: int, actor: str, reason: str = "completed", actor_type: str = "User") -> dict[str, Any]:
        """Close as ``actor`` with ``reason`` (``completed``, ``not_planned`` or ``duplicate``): a ``closed`` event."""
        return self.edit_issue(number, state="closed", state_reason=reason, actor=actor, actor_type=actor_type)

    def reopen_issue(self, number: int, actor: str, actor_type: str = "User") -> dict[str, Any]:
        """Reopen as ``actor``: a ``reopened`` event, ``state_reason`` ``reopened``."""
        return self.edit_issue(number, state="open", actor=actor, actor_type=actor_type)

    def add_label(self, number: int, name: str, actor: str, actor_type: str = "User") -> bool:
        """Add ``name`` as ``actor`` (``labeled`` event); False if the issue already had it."""
        with self._lock:
            return bool(self.primary.add_labels(number, [name], user_object(actor, actor_type)))

    def remove_label(self, number: int, name: str, actor: str, actor_type: str = "User") -> bool:
        """Remove ``name`` as ``actor`` (``unlabeled`` event); False if the issue did not have it."""
        with self._lock:
            return self.primary.remove_label(number, name, user_object(actor, actor_type))

    def assign(self, number: int, login: str, actor: str, actor_type: str = "User") -> bool:
        """Assign ``login`` as ``actor`` (an ``assigned`` event); False if they already were."""
        with self._lock:
            return bool(assignees.assign(self.primary, number, [login], user_object(actor, actor_type)))

    def unassign(self, number: int, login: str, actor: str, actor_type: str = "User") -> bool:
        """Unassign ``login`` as ``actor`` (an ``unassigned`` event); False if they were not assigned."""
        with self._lock:
            return bool(assignees.unassign(self.primary, number, [login], user_object(actor, actor_type)))

    def add_comment(self, number: int, body: str, user: str = "new-reporter",
                    actor_type: str = "User") -> dict[str, Any]:
        """Comment on the issue as ``user``."""
        with self._lock:
            return self._render(self.primary.add_comment(number, body, user_object(user, actor_type)))

    # ------------------------------------------------------------------ real-world changes

    def rename_repository(self, new_full_name: str) -> None:
        """Rename the primary repository: ``/repos/{old}/...`` answers 301 to ``/repositories/{id}/...``
        (path tail and query kept); issue URLs use the new name."""
        check_full_name(new_full_name)
        with self._lock:
            clash = next((r for r in self._repos.values() if r is not self.primary
                          and r.name.lower() == new_full_name.lower()), None)
            if clash is not None:
                raise ValueError(f"{new_full_name} is taken by another repository on this server")
            self.primary.rename(new_full_name)

    def transfer_issue(self, number: int, to_repo: str, actor: str = "maintainer-a") -> int:
        """Move the issue to ``to_repo`` (served from then on, created empty if new) as ``actor``; return its
        number there.  Here it is no longer listed and its paths answer 301 to the new issue."""
        check_full_name(to_repo)
        with self._lock:
            source = self.primary
            if to_repo.lower() == source.name.lower():
                raise ValueError(f"issue #{number} is already in {to_repo}")
            if number not in source.issues:
                raise KeyError(f"no issue #{number} in {source.name}")
            target = next((r for r in self._repos.values() if r.name.lower() == to_repo.lower()), None)
            if target is None:
                target = Repository(self.world, to_repo, self._new_repo_id(to_repo))
                target.issue_id_base = 300_000_000 + 1_000_000 * len(self._repos)
                self._repos[target.id] = target
            issue, events, comments = source.issues[number], source.events.get(number, []), \
                source.issue_comment_list(number)
            new_number = target.receive_issue(issue, events, comments, source.name, user_object(actor))
            source.remove_issue(number, (target.id, new_number))
            return new_number

    def delete_issue(self, number: int) -> None:
        """Delete the issue: no longer listed, its events and comments gone; its paths answer 410."""
        with self._lock:
            if number not in self.primary.issues:
                raise KeyError(f"no issue #{number} in {self.primary.name}")
            self.primary.remove_issue(number, "deleted")

    def set_issues_enabled(self, enabled: bool) -> None:
        """Turn the primary repository's issues off (every issues endpoint answers 410) or on again."""
        with self._lock:
            self.primary.issues_enabled = bool(enabled)
