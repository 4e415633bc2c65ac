"""Keeping a copy of a repository's issues: full and incremental scrapes, resumable page by page.

Issues are listed in creation order (``sort=created``), which is stable while the scrape
runs: an issue updated meanwhile keeps its position, so paging never skips one. After every
page the cursor is checkpointed in the document store; a scrape that crashes resumes at the
page it was on, re-fetching at most that page. Incremental runs ask for issues updated since
the previous run (``since=``) with the previous answer's ETag, so a poll with no changes
costs one request answered 304.

Who applied each label comes from issue events: the repository-wide event list on a full
scrape, each changed issue's own events on an incremental one.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from triage.data.ingest import issue_document, write_snapshot
from triage.data.sources import issue_from_github, label_events_from_github
from triage.domain.errors import RateLimited
from triage.domain.issues import Issue, LabelEvent
from triage.ports.github import GitHubApi
from triage.ports.records import CURSORS, ISSUES
from triage.ports.stores import BlobStore, DocumentStore

log = logging.getLogger(__name__)
CURSOR_ID = "scrape"


@dataclass
class ScrapeResult:
    """What a scrape did."""

    repo: str
    mode: str  # "full", "incremental" or "resume"
    issue_pages: int = 0
    event_pages: int = 0
    issues_seen: int = 0
    issues_changed: int = 0
    not_modified: bool = False
    complete: bool = True
    stopped: str | None = None
    snapshot: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def scrape(api: GitHubApi, docs: DocumentStore, blobs: BlobStore, repo: str, *, full: bool = False,
           include_pull_requests: bool = False) -> ScrapeResult:
    """Scrape ``repo`` into the stores (resuming an interrupted scrape first) and return what happened.

    Raises what the API raises after its retries (the checkpoint stays, so the next call
    resumes); a primary rate limit stops the scrape cleanly with ``complete=False``.
    """
    cursor = docs.get(CURSORS, repo, CURSOR_ID) or {"id": CURSOR_ID, "repo": repo}
    state = cursor.get("in_progress")
    if state is None:
        incremental = bool(cursor.get("since")) and not full
        state = {"mode": "incremental" if incremental else "full", "phase": "issues", "page": 1,
                 "since": cursor.get("since") if incremental else None, "max_updated": None, "run_start": None,
                 "changed": []}
        result = ScrapeResult(repo, state["mode"])
    else:
        result = ScrapeResult(repo, "resume")
        log.info("resuming the %s scrape of %s at %s page %d", state["mode"], repo, state["phase"], state["page"])

    def checkpoint(**changes: Any) -> None:
        state.update(changes)
        cursor["in_progress"] = state
        docs.upsert(CURSORS, cursor)

    try:
        if state["phase"] == "issues":
            if _issue_pages(api, docs, repo, cursor, state, result, include_pull_requests, checkpoint):
                return result
            checkpoint(phase="events", page=1)
        if state["mode"] == "full":
            _repo_events(api, docs, repo, state, result, checkpoint)
        else:
            _changed_issue_events(api, docs, repo, state, checkpoint)
    except RateLimited as exc:
        result.complete, result.stopped = False, str(exc)
        return result

    issues = [Issue.from_dict({k: v for k, v in d.items() if k != "id"}) for d in docs.query(ISSUES, repo)]
    result.snapshot = write_snapshot(blobs, repo, issues)
    since = state["max_updated"] or state["since"]
    if state["run_start"] and since and state["run_start"] < since:
        since = state["run_start"]  # issues updated while this run was paging are fetched again next time
    cursor.pop("in_progress", None)
    cursor.update({"since": since, "last_run": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "issues": len(issues)})
    if since != state["since"]:
        cursor.pop("etag", None)
    docs.upsert(CURSORS, cursor)
    return result


def _issue_pages(api: GitHubApi, docs: DocumentStore, repo: str, cursor: dict[str, Any], state: dict[str, Any],
                 result: ScrapeResult, include_pull_requests: bool, checkpoint: Any) -> bool:
    """Fetch issue pages from ``state["page"]`` on; return True if nothing changed (a 304)."""
    while True:
        page_no = state["page"]
        conditional = state["mode"] == "incremental" and page_no == 1 and cursor.get("etag_since") == state["since"]
        page = api.issues_page(repo, page_no, state["since"], cursor.get("etag") if conditional else None)
        result.issue_pages += 1
        if page.status == 304:
            result.not_modified = True
            cursor["last_run"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            docs.upsert(CURSORS, cursor)
            return True
        if page_no == 1 and state["mode"] == "incremental":
            cursor.update(etag=page.etag, etag_since=state["since"])
        if state["run_start"] is None:
            state["run_start"] = page.server_time or _now()
        docs_to_write = []
        for item in page.items:
            if "pull_request" in item and not include_pull_requests:
                continue
            stored = docs.get(ISSUES, repo, str(item["number"]))
            issue = issue_from_github(item, repo)
            issue = Issue.from_dict({**issue.to_dict(), "label_events": (stored or {}).get("label_events", [])})
            if stored is None or stored.get("updated_at") != issue.updated_at:
                state["changed"].append(issue.number)
            docs_to_write.append(issue_document(issue))
            result.issues_seen += 1
        if docs_to_write:
            docs.upsert_many(ISSUES, docs_to_write)
        updated = [str(item["updated_at"]) for item in page.items if item.get("updated_at")]
        max_updated = max([*updated, state["max_updated"] or ""]) or None
        checkpoint(page=page_no + 1, max_updated=max_updated)
        if not page.has_next:
            result.issues_changed = len(set(state["changed"]))
            return False


def _repo_events(api: GitHubApi, docs: DocumentStore, repo: str, state: dict[str, Any], result: ScrapeResult,
                 checkpoint: Any) -> None:
    """Attach label events from the repository-wide event list (newest first) to the stored issues."""
    while True:
        page = api.repo_events_page(repo, state["page"])
        result.event_pages += 1
        by_issue: dict[int, list[dict[str, Any]]] = {}
        for event in page.items:
            number = (event.get("issue") or {}).get("number")
            if number is not None and event.get("event") in ("labeled", "unlabeled"):
                by_issue.setdefault(int(number), []).append(event)
        for number, events in by_issue.items():
            _merge_events(docs, repo, number, events, replace=False)
        checkpoint(page=state["page"] + 1)
        if not page.has_next:
            return


def _changed_issue_events(api: GitHubApi, docs: DocumentStore, repo: str, state: dict[str, Any],
                          checkpoint: Any) -> None:
    """Refresh the label events of each issue that changed in this run."""
    pending = list(dict.fromkeys(state["changed"]))
    while pending:
        number = pending[0]
        _merge_events(docs, repo, number, api.issue_events(repo, number), replace=True)
        pending.pop(0)
        checkpoint(changed=pending)


def _merge_events(docs: DocumentStore, repo: str, number: int, events: list[dict[str, Any]], replace: bool) -> None:
    """Store ``events`` on the issue: replacing its events, or adding those not yet there."""
    stored = docs.get(ISSUES, repo, str(number))
    if stored is None:
        return  # events of a pull request, or of an issue this scrape does not keep
    known = [] if replace else [LabelEvent(**e) for e in stored.get("label_events", [])]
    merged = list(dict.fromkeys([*known, *label_events_from_github(events)]))
    merged.sort(key=lambda e: e.at or "")
    docs.upsert(ISSUES, {**stored, "label_events": [asdict(e) for e in merged]})


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
