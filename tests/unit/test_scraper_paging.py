"""The scrape walks GitHub's lists without skipping: the since cursor, overlapping pages, stepping back (fake GitHub)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.fake_github import FakeGitHub
from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
from triage.data.scrape_state import Budget, joins, next_window, plan_run, step_back
from triage.data.scraper import ScrapeResult, scrape
from triage.ports.records import CURSORS, ISSUES

REPO = "octo/widgets"
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture()
def stores(tmp_path: Path) -> tuple[SqliteDocumentStore, LocalBlobStore]:
    return SqliteDocumentStore(":memory:"), LocalBlobStore(tmp_path / "blobs")


def run_to_end(gh: FakeGitHub, stores: tuple, **options: object) -> list[ScrapeResult]:
    """Scrape calls until the run is complete (each bounded by ``page_budget`` if given)."""
    results = []
    while True:
        results.append(scrape(gh, *stores, REPO, per_page=10, now=NOW, **options))  # type: ignore[arg-type]
        if results[-1].complete:
            return results
        assert len(results) < 500, "a scrape that never ends"


def stored_numbers(docs: SqliteDocumentStore) -> set[int]:
    return {int(d["number"]) for d in docs.query(ISSUES, REPO) if not d.get("gone")}


def once_on(gh: FakeGitHub, prefix: str, nth: int, action: Callable[[], None]) -> None:
    """Run ``action`` just before the ``nth`` request whose call line starts with ``prefix``."""
    seen = [0]

    def hook(line: str) -> None:
        if line.startswith(prefix):
            seen[0] += 1
            if seen[0] == nth:
                action()
    gh.hooks.append(hook)


# --- the pure parts ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [100, 10, 7, 3])
def test_each_window_overlaps_the_last_item_read_and_moves_on(limit: int) -> None:
    start, size = 0, limit
    for _ in range(400):
        page, per_page, overlaps = next_window(start, size, limit)
        first = (page - 1) * per_page
        assert 1 <= per_page <= limit and first + per_page > start + size, "every page reads something new"
        if overlaps:
            assert start < first <= start + size - 1, "the page starts at or before the last item read"
        start, size = first, per_page
    if limit == 100:
        assert start / 400 > 80, "about 88 new items per request of 100"


def test_a_page_joins_the_last_item_read_or_the_walk_steps_back() -> None:
    assert joins([9, 8, 7], anchor=None, start=50, ordered=True) == "joined"
    assert joins([5, 4, 3], anchor=9, start=0, ordered=True) == "joined", "the top of the list joins anything"
    assert joins([10, 9, 8], anchor=9, start=50, ordered=True) == "joined"
    assert joins([10, 8, 7], anchor=9, start=50, ordered=True) == "joined", "the anchor itself went away"
    assert joins([20, 15, 12], anchor=9, start=50, ordered=True) == "short", "new items pushed the list down"
    assert joins([8, 7, 6], anchor=9, start=50, ordered=True) == "gap", "items shifted up past the page start"
    assert joins([3, 4, 5], anchor=2, start=50, ordered=False) == "gap", "unordered: only the anchor proves it"
    assert joins([3, 2, 5], anchor=2, start=50, ordered=False) == "joined"
    assert step_back(250, 100) == (3, 100) and (3 - 1) * 100 < 250
    assert step_back(1, 100) == (1, 100)


def test_a_run_is_full_first_then_incremental_then_full_again_each_day() -> None:
    first = plan_run({}, full=False, now=NOW)
    assert first["mode"] == "full" and first["repo_events"] and first["since"] is None and first["walk"] == 1
    cursor = {"since": "2026-02-01T00:00:00Z", "version": 2, "walks": 1, "reconciled_at": NOW.isoformat()}
    later = plan_run(cursor, full=False, now=NOW + timedelta(hours=1))
    assert later["mode"] == "incremental" and later["since"] == cursor["since"] and not later["repo_events"]
    daily = plan_run(cursor, full=False, now=NOW + timedelta(days=1))
    assert daily["mode"] == "full" and daily["walk"] == 2 and not daily["repo_events"], "reconciling, per-issue events"
    assert plan_run(cursor, full=True, now=NOW)["repo_events"]
    legacy = plan_run({"since": "2026-02-01T00:00:00Z"}, full=False, now=NOW)
    assert legacy["mode"] == "full" and legacy["repo_events"], "an old cursor's issues lack events_at: start over"


def test_the_budget_counts_requests_and_seconds() -> None:
    pages = Budget(pages=2)
    assert [pages.take() for _ in range(3)] == [True, True, False] and pages.spent == 2
    ticks = iter([0.0, 100.0, 400.0])
    budget = Budget(seconds=300, clock=lambda: next(ticks))
    assert [budget.take(), budget.take(), budget.take()] == [True, True, False]
    assert Budget().take() and Budget(pages=0).take() is False
    halves = iter([0.0, 100.0, 160.0])
    slow = Budget(seconds=300, clock=lambda: next(halves))
    assert slow.take() and not slow.late() and slow.late(), "past half the time: the snapshot waits"
    assert not Budget(pages=3).late()


# --- the walk ----------------------------------------------------------------------------------------------------

def world(n: int = 45) -> FakeGitHub:
    gh = FakeGitHub(REPO)
    for i in range(1, n + 1):
        gh.open_issue(f"Crash number {i}", f"Body of {i}", labels=["bug"] if i % 2 else [])
    return gh


def test_issues_deleted_between_pages_make_no_issue_skipped(stores: tuple) -> None:
    gh = world()
    doomed = [3, 4, 5, 6, 7, 8, 9]  # on the first page: page-number paging would shift the second page past issues
    once_on(gh, "GET /repos/octo/widgets/issues?", 2, lambda: [gh.delete_issue(n) for n in doomed])
    run_to_end(gh, stores)
    assert stored_numbers(stores[0]) >= set(gh.issues), "every issue that still exists is stored"


def test_issues_updated_between_pages_are_stored_as_they_are_now(stores: tuple) -> None:
    gh = world()
    once_on(gh, "GET /repos/octo/widgets/issues?", 2, lambda: [gh.edit_issue(n, title=f"New {n}") for n in (1, 2, 3)])
    run_to_end(gh, stores)
    docs = stores[0]
    assert stored_numbers(docs) == set(gh.issues)
    assert all(docs.get(ISSUES, REPO, str(n))["title"] == f"New {n}" for n in (1, 2, 3))


def test_more_than_a_page_of_issues_sharing_one_time_with_deletions_between_pages(stores: tuple) -> None:
    gh = FakeGitHub(REPO)
    for i in range(1, 36):  # an import: 35 issues with one updated_at, 3.5 pages of 10
        gh.open_issue(f"Imported {i}", labels=["area-io"], at="2026-01-01T10:00:00Z")
    for i in range(36, 41):
        gh.open_issue(f"Later {i}")
    requests = {"n": 0}

    def churn(line: str) -> None:  # before each page of the group: one member leaves it (deleted or updated)
        if line.startswith("GET /repos/octo/widgets/issues?") and "page=1&" not in line:
            requests["n"] += 1
            victim = min(n for n in gh.issues if n <= 35 and gh.issues[n]["updated_at"] == "2026-01-01T10:00:00Z")
            gh.delete_issue(victim) if requests["n"] % 2 else gh.edit_issue(victim, title="moved on")
    gh.hooks.append(churn)
    run_to_end(gh, stores)
    docs = stores[0]
    assert stored_numbers(docs) >= set(gh.issues), "no member of the group is skipped"
    assert all(docs.get(ISSUES, REPO, str(n))["updated_at"] == i["updated_at"] for n, i in gh.issues.items())
    assert requests["n"] >= 3, "the group took several overlapping pages"


def test_events_that_disappear_between_pages_make_no_event_skipped(stores: tuple) -> None:
    gh = FakeGitHub(REPO)
    for i in range(1, 31):
        gh.open_issue(f"Issue {i}", labels=["bug", "area-net"])
    for i in range(1, 31, 3):
        gh.label(i, "needs-triage", "ci-bot[bot]", "Bot")
    newest = sorted(gh.issues, key=lambda n: -max(e["id"] for e in gh.events[n]))
    once_on(gh, "GET /repos/octo/widgets/issues/events", 2, lambda: [gh.delete_issue(n) for n in newest[:6]])
    once_on(gh, "GET /repos/octo/widgets/issues/events", 4, lambda: gh.transfer_issue(newest[10], "octo/other"))
    run_to_end(gh, stores)
    docs = stores[0]
    for number, truth in gh.truth().items():
        stored = docs.get(ISSUES, REPO, str(number))
        assert len(stored["label_events"]) == len(truth["events"]), f"#{number} lost events"
        bots = [e for e in stored["label_events"] if e["label"] == "needs-triage"]
        assert bots == [] or bots[0]["actor_type"] == "Bot"


def test_an_unchanged_incremental_poll_is_one_conditional_request(stores: tuple) -> None:
    gh = world()
    run_to_end(gh, stores)
    assert scrape(gh, *stores, REPO, per_page=10, now=NOW).mode == "incremental"
    gh.calls.clear()
    again = scrape(gh, *stores, REPO, per_page=10, now=NOW)
    assert again.not_modified and len(gh.calls) == 1
    gh.label(7, "docs", "maintainer")
    changed = scrape(gh, *stores, REPO, per_page=10, now=NOW)
    assert not changed.not_modified and changed.issues_changed == 1 and changed.issue_requests == 1
    assert [e["label"] for e in stores[0].get(ISSUES, REPO, "7")["label_events"]][-1] == "docs"
    assert "in_progress" not in stores[0].get(CURSORS, REPO, "scrape")
