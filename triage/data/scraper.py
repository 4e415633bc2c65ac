"""Keeping a copy of a repository's issues: bounded, resumable scrapes that lose nothing and follow GitHub.

A run walks the issues least recently updated first (``sort=updated&direction=asc``) from a ``since``
cursor that advances to the last ``updated_at`` stored, so issues updated, deleted or transferred during or
between calls cannot make it skip one (see :mod:`triage.data.scrape_state`); then come label events and
gone issues (:mod:`triage.data.scrape_events`). The state is checkpointed in the cursor document after
every request, and each call spends at most its budget of requests and seconds (``complete=False``: call
again), so a scrape of any size is a series of short calls, each of which may crash anywhere.

Incremental runs ask for issues updated since the cursor with the previous answer's ETag, so a poll with no
changes costs one request answered 304. A full run (the first one, when asked, and once a day) walks
everything and marks stored issues that are no longer there. A primary rate limit ends the call cleanly
with ``retry_at``; issues turned off end it with status ``issues-disabled`` (also on the cursor, ``blocked``);
a renamed repository raises :class:`~triage.domain.errors.RepositoryMoved` for the app to carry its data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from triage.data.ingest import issue_from_document, prune_snapshots, write_snapshot
from triage.data.scrape_events import find_gone, refresh, repo_events
from triage.data.scrape_run import OutOfBudget, ScrapeResult, ScrapeRun, load_cursor
from triage.data.scrape_state import (
    CURSOR_ID,
    RECONCILE_EVERY,
    STATE_VERSION,
    Budget,
    joins,
    next_window,
    plan_run,
)
from triage.domain.errors import IssuesDisabled, RateLimited
from triage.ports.github import PER_PAGE, GitHubApi
from triage.ports.records import CURSORS, ISSUES
from triage.ports.stores import BlobStore, DocumentStore, scan

__all__ = ["CURSOR_ID", "ScrapeResult", "scrape"]
log = logging.getLogger(__name__)
SNAPSHOTS_KEPT = 7  # the last week of daily full walks


def scrape(api: GitHubApi, docs: DocumentStore, blobs: BlobStore, repo: str, *, full: bool = False,
           include_pull_requests: bool = False, page_budget: int | None = None, time_budget: float | None = None,
           per_page: int = PER_PAGE, now: datetime | None = None, reconcile_every: timedelta = RECONCILE_EVERY,
           clock: Callable[[], float] = time.monotonic) -> ScrapeResult:
    """Scrape ``repo`` into the stores, resuming an interrupted run first, and say what happened.

    ``page_budget`` and ``time_budget`` bound this call (GitHub requests, seconds); ``full`` and
    ``include_pull_requests`` apply to a run that starts now. Raises what the API raises after its retries
    (the checkpoint stays, so the next call resumes) and :class:`RepositoryMoved`.
    """
    now = now or datetime.now(timezone.utc)
    cursor = load_cursor(docs, repo)
    state = cursor.get("in_progress")
    if state is None or state.get("version") != STATE_VERSION:
        state = plan_run(cursor, full=full, now=now, reconcile_every=reconcile_every, per_page=per_page)
        state["include_pull_requests"] = include_pull_requests
        result = ScrapeResult(repo, state["mode"])
    else:
        result = ScrapeResult(repo, "resume")
        log.info("resuming the %s scrape of %s in phase %s", state["mode"], repo, state["phase"])
    run = ScrapeRun(api, docs, repo, cursor, state, result, Budget(page_budget, time_budget, clock), now)
    try:
        if state["phase"] == "issues" and _walk(run):
            return result
        if state["phase"] == "events":
            repo_events(run)
        if state["phase"] == "gone":
            find_gone(run)
        if state["phase"] == "refresh":
            refresh(run)
        if run.budget.late():
            raise OutOfBudget("the snapshot is left to the next call")
    except OutOfBudget as exc:
        result.complete, result.status, result.stopped = False, "budget", str(exc)
        return result
    except RateLimited as exc:
        result.complete, result.status, result.stopped = False, "rate-limited", str(exc)
        result.retry_at = datetime.fromtimestamp(exc.reset_at, timezone.utc).isoformat(timespec="seconds")
        return result
    except IssuesDisabled as exc:
        result.status, result.stopped = "issues-disabled", str(exc)
        cursor["blocked"] = {"status": "issues-disabled", "message": str(exc), "at": _stamp(now)}
        docs.upsert(CURSORS, cursor)
        return result
    _finish(run, blobs)
    return result


def _walk(run: ScrapeRun) -> bool:
    """Walk the issue list from the cursor to its end; True if GitHub said nothing changed (304)."""
    state, cursor = run.state, run.cursor
    while True:
        page_no, size = state["window"] or (1, state["per_page"])
        start = (page_no - 1) * size
        first = state["mode"] == "incremental" and state["window"] is None and state["since"] == state["first_since"]
        conditional = first and cursor.get("etag_since") == state["since"]
        page = run.call(run.api.issues_page, page_no, state["since"], cursor.get("etag") if conditional else None,
                        size)
        run.result.issue_pages += 1
        if page.redirected:
            run.check_moved()
        if page.status == 304:
            run.result.not_modified = True
            cursor["last_run"] = _stamp(run.now)
            run.docs.upsert(CURSORS, {k: v for k, v in cursor.items() if k != "in_progress"})
            return True
        if first:
            cursor.update(etag=page.etag, etag_since=state["since"])
        numbers = [int(item["number"]) for item in page.items]
        run.store(page.items)  # before deciding anything: re-storing an issue is harmless
        if state["window"] and joins(numbers, state["anchor"], start, ordered=False) == "gap":
            run.checkpoint(window=None, anchor=None)  # the issues sharing ``since`` moved: read them again
            continue
        top = max((str(item.get("updated_at") or "") for item in page.items), default="")
        if top > (state["since"] or ""):
            state.update(since=top, window=None, anchor=None)
        elif page.has_next:  # a whole page shares ``since``: the next page overlaps this one
            page_no, size, overlaps = next_window(start, len(numbers), state["per_page"])
            state.update(window=[page_no, size], anchor=numbers[-1] if overlaps else None)
        if not page.has_next:
            nxt = "refresh" if state["mode"] == "incremental" else "events" if state["repo_events"] else "gone"
            run.checkpoint(phase=nxt, window=None, anchor=None)
            return False
        run.checkpoint()


def _finish(run: ScrapeRun, blobs: BlobStore) -> None:
    """Close the run on the cursor; after a full walk, also write a snapshot (streamed from the store a page at a
    time) and prune the old ones. An incremental poll reads nothing it did not change: rewriting the whole
    repository on every poll with a change made each poll cost O(issues) (docs/scale.md)."""
    state, cursor = run.state, run.cursor
    if state["mode"] == "full":
        issues = (issue_from_document(doc) for doc in scan(run.docs, ISSUES, run.repo))
        run.result.snapshot = write_snapshot(blobs, run.repo, issues)
        prune_snapshots(blobs, run.repo, SNAPSHOTS_KEPT, run.result.snapshot)
    present = run.docs.count(ISSUES, run.repo) - run.docs.count(ISSUES, run.repo, gone=True)
    since = state["since"] or cursor.get("since")
    if since != cursor.get("etag_since"):
        cursor.pop("etag", None)
        cursor.pop("etag_since", None)
    cursor.pop("in_progress", None)
    cursor.pop("blocked", None)
    cursor.update(since=since, version=STATE_VERSION, last_run=_stamp(run.now),
                  issues=present)
    if state["mode"] == "full":
        cursor.update(walks=state["walk"], reconciled_at=_stamp(run.now))
    run.docs.upsert(CURSORS, cursor)


def _stamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).isoformat(timespec="seconds")


def cursor_status(docs: DocumentStore, repo: str) -> dict[str, Any]:
    """What the status page shows of the repository's scrape."""
    cursor = load_cursor(docs, repo)
    state = cursor.get("in_progress") or {}
    return {"last_run": cursor.get("last_run"), "issues": cursor.get("issues"), "since": cursor.get("since"),
            "in_progress": state.get("phase"), "blocked": (cursor.get("blocked") or {}).get("status")}
