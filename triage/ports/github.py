"""The small surface of GitHub the product uses, as a Protocol (the adapter is :mod:`triage.github`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint. ``status`` is 200, or 304 when the ETag still matched."""

    status: int
    items: list[dict[str, Any]]
    etag: str | None
    has_next: bool
    server_time: str | None = None  # the answer's Date header as YYYY-MM-DDTHH:MM:SSZ


class GitHubApi(Protocol):
    """What the scraper, the labeler and the repository config need from GitHub."""

    def issues_page(self, repo: str, page: int, since: str | None = None, etag: str | None = None) -> Page:
        """Issues (and pull requests) of ``repo`` updated since ``since``, oldest created first, 100 per page, all states."""
        ...

    def repo_events_page(self, repo: str, page: int) -> Page:
        """Issue events of the whole repository, newest first, 100 per page."""
        ...

    def issue_events(self, repo: str, number: int) -> list[dict[str, Any]]:
        """All events of one issue."""
        ...

    def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        """One issue as a REST object."""
        ...

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Add labels to an issue in one call; existing labels are kept."""
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
