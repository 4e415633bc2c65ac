"""One call of a scrape: its stores, cursor, budget and result, and how it writes issue documents.

Besides the :class:`~triage.domain.issues.Issue` fields, a stored issue document carries what the scraper
needs to repair itself after a crash: ``events_at`` (the ``updated_at`` for which its label events were
last fetched), ``events_due`` (True while they differ: written together with the issue, so a crash between
storing an issue and fetching its events leaves it due, never silently stale), ``walk`` (the last full walk
that listed it) and, for a transferred issue, ``moved_to``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from triage.data.assign_events import assign_events_from_github
from triage.data.ingest import issue_document
from triage.data.scrape_state import CURSOR_ID, Budget
from triage.data.sources import is_pull_request, issue_from_github, label_events_from_github
from triage.domain.assignments import AssignEvent
from triage.domain.errors import RepositoryMoved
from triage.domain.issues import LabelEvent, check_repo
from triage.ports.github import GitHubApi
from triage.ports.records import CURSORS, ISSUES
from triage.ports.stores import DocumentStore

T = TypeVar("T")


class OutOfBudget(Exception):
    """This call has spent its requests or its time; the checkpoint is saved and the next call goes on."""


@dataclass
class ScrapeResult:
    """What one scrape call did. ``complete`` is False when the run must be called again (``status`` "budget"
    or "rate-limited", then not before ``retry_at``)."""

    repo: str
    mode: str  # "full", "incremental" or "resume"
    issue_pages: int = 0
    event_pages: int = 0
    issue_requests: int = 0  # one issue's events, or one issue checked for deletion or transfer
    file_requests: int = 0  # one pull request's changed files (pull requests scraped only)
    issues_seen: int = 0
    issues_changed: int = 0
    gone: int = 0
    not_modified: bool = False
    complete: bool = True
    status: str = "ok"  # "ok", "budget", "rate-limited" or "issues-disabled"
    stopped: str | None = None
    retry_at: str | None = None
    snapshot: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class ScrapeRun:
    """The parts one scrape call works with; :meth:`checkpoint` saves ``state`` in the cursor document."""

    api: GitHubApi
    docs: DocumentStore
    repo: str
    cursor: dict[str, Any]
    state: dict[str, Any]
    result: ScrapeResult
    budget: Budget
    now: datetime
    _checked_move: bool = field(default=False, repr=False)

    def call(self, method: Callable[..., T], *args: Any) -> T:
        """One GitHub request, if the budget allows it."""
        if not self.budget.take():
            raise OutOfBudget(f"budget of this call spent after {self.budget.spent} requests")
        return method(self.repo, *args)

    def checkpoint(self, **changes: Any) -> None:
        """Save the run's state (after ``changes``): a crash from here on resumes at this point."""
        self.state.update(changes)
        self.cursor["in_progress"] = self.state
        self.cursor.pop("blocked", None)
        self.docs.upsert(CURSORS, self.cursor)

    def check_moved(self) -> None:
        """After a redirected answer: raise :class:`RepositoryMoved` if the repository has a new name."""
        if self._checked_move:
            return
        self._checked_move = True
        self.budget.spent += 1  # never refused: a call that cannot ask would stop at the same place every time
        new = check_repo(str(self.api.repository(self.repo)["full_name"]))
        if new != self.repo:
            raise RepositoryMoved(self.repo, new)

    def eligible(self, doc: Mapping[str, Any]) -> bool:
        """A stored issue this scrape keeps up to date (not gone; a pull request only if they are scraped)."""
        return not doc.get("gone") and (self.state.get("include_pull_requests") or not doc.get("is_pull_request"))

    def store(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Store listed issues (pull requests only if scraped), keeping what is known of their label events."""
        written = []
        kept = [item for item in items if not is_pull_request(item) or self.state.get("include_pull_requests")]
        known = {int(d["number"]): d for d in self.docs.query_in(ISSUES, self.repo, "number",
                                                                 [int(item["number"]) for item in kept])}
        for item in kept:  # one read for the page's stored documents, one write for the page
            stored = known.get(int(item["number"]))
            doc = listed_document(item, self.repo, stored, walk=self.state.get("walk"),
                                  provisional=bool(self.state.get("repo_events")))
            if is_pull_request(item):
                doc = self._with_files(doc, stored, written)
            if stored is None or stored.get("updated_at") != doc["updated_at"] or stored.get("gone"):
                self.result.issues_changed += 1
            self.result.issues_seen += 1
            written.append(doc)
        if written:
            self.docs.upsert_many(ISSUES, written)

    def _with_files(self, doc: dict[str, Any], stored: Mapping[str, Any] | None,
                    written: list[dict[str, Any]]) -> dict[str, Any]:
        """A pull request's document with its changed files: kept while it is unchanged (``files_at``), else
        fetched, one budgeted call; out of budget, the page's documents done so far are written first, so the
        next call does not fetch their files again."""
        if stored is not None and stored.get("files_at") == doc["updated_at"]:
            return {**doc, "paths": list(stored.get("paths") or []), "files_at": doc["updated_at"]}
        try:
            paths = self.call(self.api.pull_files, int(doc["number"]))
        except OutOfBudget:
            if written:
                self.docs.upsert_many(ISSUES, written)
            raise
        self.result.file_requests += 1
        return {**doc, "paths": paths, "files_at": doc["updated_at"]}

    def mark_gone(self, number: int, how: str, moved_to: str | None = None) -> None:
        """Mark a stored issue deleted or transferred: kept, never learned from nor labeled again."""
        doc = self.docs.get(ISSUES, self.repo, str(number))
        if doc is not None and not doc.get("gone"):
            self.docs.upsert(ISSUES, {**doc, "gone": how, "moved_to": moved_to, "events_due": False})
            self.result.gone += 1

    def set_events(self, number: int, events: Sequence[Mapping[str, Any]], updated_at: str | None) -> None:
        """Replace an issue's label events with its full event list, fetched while it was at ``updated_at``."""
        doc = self.docs.get(ISSUES, self.repo, str(number))
        if doc is None or doc.get("gone"):
            return
        due = doc.get("updated_at") != updated_at  # stored again meanwhile: fetch once more
        self.docs.upsert(ISSUES, {**doc, "label_events": [asdict(e) for e in label_events_from_github(events)],
                                  "assign_events": [asdict(e) for e in assign_events_from_github(events)],
                                  "events_at": doc.get("events_at") if due else updated_at, "events_due": due})

    def add_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Add label events from the repository-wide list to the stored issues they belong to."""
        by_issue: dict[int, list[Mapping[str, Any]]] = {}
        for event in events:
            number = (event.get("issue") or {}).get("number")
            if number is not None and event.get("event") in ("labeled", "unlabeled", "assigned", "unassigned"):
                by_issue.setdefault(int(number), []).append(event)
        stored = {int(d["number"]): d for d in self.docs.query_in(ISSUES, self.repo, "number", sorted(by_issue))}
        changed = []
        for number, found in sorted(by_issue.items()):
            doc = stored.get(number)
            if doc is None or doc.get("gone"):
                continue  # a pull request, or an issue this scrape does not keep
            known = [LabelEvent(**e) for e in doc.get("label_events", [])]
            merged = sorted(dict.fromkeys([*known, *label_events_from_github(found)]), key=lambda e: e.at or "")
            had = [AssignEvent.from_dict(e) for e in doc.get("assign_events", [])]
            assigned = sorted(dict.fromkeys([*had, *assign_events_from_github(found)]), key=lambda e: e.at or "")
            if merged != known or assigned != had:
                changed.append({**doc, "label_events": [asdict(e) for e in merged],
                                "assign_events": [asdict(e) for e in assigned]})
        if changed:  # one read and one write for the page's issues
            self.docs.upsert_many(ISSUES, changed)


def listed_document(item: Mapping[str, Any], repo: str, stored: Mapping[str, Any] | None, *, walk: int | None,
                    provisional: bool) -> dict[str, Any]:
    """The document of an issue as listed: stored label events kept; ``provisional``: its events come from the
    repository-wide list this run reads next, so they count as fetched for this ``updated_at``."""
    issue = issue_from_github(item, repo)
    events_at = issue.updated_at if provisional else (stored or {}).get("events_at")
    return {**issue_document(issue), "label_events": list((stored or {}).get("label_events", [])),
            "assign_events": list((stored or {}).get("assign_events", [])),
            "events_at": events_at, "events_due": events_at != issue.updated_at,
            "walk": walk if walk is not None else (stored or {}).get("walk")}


def load_cursor(docs: DocumentStore, repo: str) -> dict[str, Any]:
    """The repository's scrape cursor (a fresh one before the first scrape)."""
    return docs.get(CURSORS, repo, CURSOR_ID) or {"id": CURSOR_ID, "repo": repo}
