"""The small surface of GitHub the product uses, as a Protocol (the adapter is :mod:`triage.adapters.github.client`).

Errors: every method raises :class:`~triage.domain.errors.GitHubError` for an answer that retrying will not fix
(``status`` 404 or 410 for an issue that was deleted), :class:`~triage.domain.errors.IssuesDisabled` when the
repository has issues turned off, :class:`~triage.domain.errors.IssueMoved` when an issue was transferred, and
:class:`~triage.domain.errors.RateLimited` when the primary rate limit is spent until a later reset. A renamed
or transferred *repository* is followed transparently; list pages say so with :attr:`Page.redirected`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

PER_PAGE = 100  # GitHub's largest page
MAX_PULL_FILES = 3000  # GitHub lists at most 3,000 files of a pull request


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint. ``status`` is 200, or 304 when the ETag still matched."""

    status: int
    items: list[dict[str, Any]]
    etag: str | None
    has_next: bool
    server_time: str | None = None  # the answer's Date header as YYYY-MM-DDTHH:MM:SSZ
    redirected: bool = False  # GitHub answered from another URL: the repository was renamed or transferred


class GitHubApi(Protocol):
    """What the scraper, the labeler and the repository config need from GitHub."""

    def issues_page(self, repo: str, page: int, since: str | None = None, etag: str | None = None,
                    per_page: int = PER_PAGE) -> Page:
        """Issues (and pull requests) of ``repo`` in all states updated at or after ``since`` (inclusive), least
        recently updated first (``sort=updated&direction=asc``); ``etag`` makes the request conditional."""
        ...

    def repo_events_page(self, repo: str, page: int, per_page: int = PER_PAGE) -> Page:
        """Issue events of the whole repository, newest first."""
        ...

    def issue_events(self, repo: str, number: int) -> list[dict[str, Any]]:
        """All events of one issue, oldest first."""
        ...

    def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        """One issue as a REST object."""
        ...

    def pull_files(self, repo: str, number: int) -> list[str]:
        """The paths pull request ``number`` changes (``GET /pulls/{n}/files``, every page, GitHub's first
        :data:`MAX_PULL_FILES` files at most); a renamed file gives its new path, then its previous one."""
        ...

    def repository(self, repo: str) -> dict[str, Any]:
        """The repository as a REST object (``id``, ``full_name``...), following a rename or transfer: its
        ``full_name`` is the current name."""
        ...

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Add labels to an issue in one call; existing labels are kept."""
        ...

    def remove_label(self, repo: str, number: int, label: str) -> bool:
        """Remove one label from an issue; False when the issue did not carry it (GitHub's 404)."""
        ...

    def add_assignees(self, repo: str, number: int, logins: Sequence[str]) -> list[str]:
        """``POST /repos/{repo}/issues/{number}/assignees``; the issue's assignees after it (GitHub drops, without
        an error, logins that cannot be assigned: the caller compares)."""
        ...

    def repository_labels(self, repo: str) -> list[dict[str, Any]]:
        """The labels defined in the repository (``name``, ``description``...), as ``GET /repos/{o}/{r}/labels``."""
        ...

    def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """All comments of an issue."""
        ...

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        """Post a comment; returns it."""
        ...

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        """Replace a comment's body."""
        ...

    def get_file(self, repo: str, path: str) -> str | None:
        """A text file of the repository's default branch, or None if it does not exist."""
        ...
