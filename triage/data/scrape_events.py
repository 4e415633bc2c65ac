"""The phases of a scrape after the issue walk: label events and issues that are gone.

* ``events``: the repository-wide event list (first run, or asked), read with overlapping pages so that
  events that disappear meanwhile (their issue deleted or transferred) cannot make it skip others;
* ``gone`` (full runs): every stored issue the walk did not list is asked for: 404 or 410 marks it deleted,
  a redirect to another repository or number transferred;
* ``refresh``: each issue whose label events are due (``events_at`` differs from its ``updated_at``) gets
  its own events again, whichever run stored it and wherever that run stopped.
"""

from __future__ import annotations

from triage.data.scrape_run import ScrapeRun
from triage.data.scrape_state import joins, next_window, step_back
from triage.domain.errors import GitHubError, IssueMoved, IssuesDisabled
from triage.ports.records import ISSUES
from triage.ports.stores import scan

GONE_STATUSES = (404, 410)  # GitHub answers 410 for a deleted issue, 404 where it cannot tell


def repo_events(run: ScrapeRun) -> None:
    """Read the repository's event list to its end, adding label events to the stored issues."""
    events, limit = run.state["events"], run.state["per_page"]
    while True:
        page_no, size = events["window"]
        start = (page_no - 1) * size
        page = run.call(run.api.repo_events_page, page_no, size)
        run.result.event_pages += 1
        if page.redirected:
            run.check_moved()
        ids = [int(event["id"]) for event in page.items]
        verdict = joins(ids, events["anchor"], start, ordered=True)
        run.add_events(page.items)  # re-reading events is harmless: they are merged
        if verdict == "gap":  # events before this page disappeared: some of ours moved up past its start
            events["window"] = list(step_back(start, limit))
            run.checkpoint()
            continue
        if ids and verdict == "joined":
            events["anchor"] = min(ids)
        if not page.has_next:
            run.checkpoint(phase="gone")
            return
        page_no, size, overlaps = next_window(start, len(ids), limit)
        events["window"] = [page_no, size]
        if not overlaps:
            events["anchor"] = None
        run.checkpoint()


def find_gone(run: ScrapeRun) -> None:
    """Ask GitHub for each stored issue this full walk did not list; mark the deleted and transferred ones."""
    state = run.state
    if state["pending"] is None:
        state["pending"] = sorted(int(d["number"]) for d in scan(run.docs, ISSUES, run.repo)
                                  if run.eligible(d) and d.get("walk") != state["walk"])
        run.checkpoint()
    while state["pending"]:
        number = state["pending"][0]
        try:
            item = run.call(run.api.get_issue, number)
        except IssuesDisabled:
            raise
        except IssueMoved as moved:
            run.mark_gone(number, "transferred", moved.to)
        except GitHubError as exc:
            if exc.status not in GONE_STATUSES:
                raise
            run.mark_gone(number, "deleted")
        else:
            run.store([item])  # still there (the listing missed it): stored as listed
        run.result.issue_requests += 1
        state["pending"].pop(0)
        run.checkpoint()
    run.checkpoint(phase="refresh", pending=None)


def refresh(run: ScrapeRun) -> None:
    """Fetch the events of every stored issue whose label events are due."""
    state = run.state
    if state["pending"] is None:
        state["pending"] = sorted(int(d["number"]) for d in scan(run.docs, ISSUES, run.repo, events_due=True)
                                  if run.eligible(d))
        run.checkpoint()
    while state["pending"]:
        number = state["pending"][0]
        doc = run.docs.get(ISSUES, run.repo, str(number)) or {}
        try:
            found = run.call(run.api.issue_events, number)
        except IssuesDisabled:
            raise
        except IssueMoved as moved:
            run.mark_gone(number, "transferred", moved.to)
        except GitHubError as exc:
            if exc.status not in GONE_STATUSES:
                raise
            run.mark_gone(number, "deleted")
        else:
            run.set_events(number, found, doc.get("updated_at"))
        run.result.issue_requests += 1
        state["pending"].pop(0)
        run.checkpoint()
    run.checkpoint(phase="done", pending=None)
