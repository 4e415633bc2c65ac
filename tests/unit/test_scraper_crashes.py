"""A scrape loses nothing: cut into calls it equals one uninterrupted run, and a crash at any write or request,
with issues deleted, transferred, edited and labeled by bots before it resumes, leaves no issue lost or stale."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.test_scraper_support import (
    CLEAN,
    NEXT_DAY,
    NOW,
    REPO,
    Crash,
    CrashingDocs,
    MemoryBlobs,
    audit,
    finish,
    mutate,
    world,
)
from triage.adapters.local.stores import SqliteDocumentStore
from triage.data.scraper import scrape
from triage.ports.records import CURSORS, ISSUES


def test_a_scrape_cut_into_many_calls_equals_one_uninterrupted_scrape() -> None:
    whole, parts = SqliteDocumentStore(":memory:"), SqliteDocumentStore(":memory:")
    assert scrape(world(), whole, MemoryBlobs(), REPO, per_page=10, now=NOW).complete
    calls = finish(world(), parts, MemoryBlobs(), NOW, budget=2)
    assert calls >= 5, f"cut into {calls} calls"
    assert parts.query(ISSUES, REPO) == whole.query(ISSUES, REPO), "the same documents, field for field"
    ends = [{k: docs.get(CURSORS, REPO, "scrape")[k] for k in ("since", "walks", "issues", "version")}
            for docs in (whole, parts)]
    assert ends[0] == ends[1]
    assert audit(world(), parts) == CLEAN


def crash_and_recover(*, write: int | None = None, request: int | None = None,
                      crash_run: str = "first") -> dict[str, list[int]]:
    """Crash the first (full) run, a later incremental one or the next day's full one at one write or request;
    change GitHub, also between the calls that finish the run; finish it, run the next scrape and audit; run the
    next day's full scrape and audit again (it marks issues deleted after the first walk had listed them)."""
    gh, inner, blobs = world(), SqliteDocumentStore(":memory:"), MemoryBlobs()
    when = NEXT_DAY if crash_run == "reconcile" else NOW
    if crash_run != "first":
        finish(gh, inner, blobs, NOW)
        mutate(gh, 1000)
    docs = CrashingDocs(inner, write)
    if request is not None:
        def die(line: str, seen: list[int] = [0]) -> None:  # noqa: B006 - a counter shared by the calls
            seen[0] += 1
            if seen[0] == request:
                raise Crash(f"request {request}")
        gh.hooks.append(die)
    with pytest.raises(Crash):
        finish(gh, docs, blobs, when)
    gh.hooks.clear()
    k = write or request or 0
    mutate(gh, k)
    finish(gh, inner, blobs, when, between=lambda call: mutate(gh, 100 * k + call) if call <= 2 else None)
    finish(gh, inner, blobs, when)  # the next scrape: incremental
    after_runs = audit(gh, inner)
    after_runs["gone_unmarked"] = []  # issues deleted after the walk had listed them wait for the next full run
    finish(gh, inner, blobs, when + timedelta(days=1, hours=1))
    reconciled = audit(gh, inner)
    return {key: sorted(set(after_runs[key]) | set(reconciled[key])) for key in reconciled}


def points(crash_run: str) -> tuple[int, int]:
    """How many writes and requests the crashed run makes when nothing crashes."""
    gh, inner, blobs = world(), SqliteDocumentStore(":memory:"), MemoryBlobs()
    if crash_run != "first":
        finish(gh, inner, blobs, NOW)
        mutate(gh, 1000)
        gh.calls.clear()
    counter = CrashingDocs(inner, None)
    finish(gh, counter, blobs, NEXT_DAY if crash_run == "reconcile" else NOW)
    return counter.writes, len(gh.calls)


@pytest.mark.parametrize("crash_run", ["first", "incremental", "reconcile"])
def test_a_crash_at_every_write_and_request_loses_nothing(crash_run: str) -> None:
    writes, requests = points(crash_run)
    assert writes > 5 and requests > 2
    bad = {f"write {k}": found for k in range(1, writes + 1) if (found := crash_and_recover(
        write=k, crash_run=crash_run)) != CLEAN}
    bad |= {f"request {k}": found for k in range(1, requests + 1) if (found := crash_and_recover(
        request=k, crash_run=crash_run)) != CLEAN}
    assert bad == {}, f"{len(bad)} of {writes + requests} crash points left the store wrong"


def overlapping_scrapes(k: int) -> dict[str, list[int]]:
    """A second scrape runs whole (GitHub changing before and after it) inside the ``k``-th request of the first;
    the first then carries on with its own, older state. Then the next scrape and the next day's; audit."""
    gh, docs, blobs = world(), SqliteDocumentStore(":memory:"), MemoryBlobs()
    seen = [0]

    def meanwhile(line: str) -> None:
        seen[0] += 1
        if seen[0] == k:
            gh.hooks.clear()
            mutate(gh, k)
            finish(gh, docs, blobs, NOW, budget=1000)
            mutate(gh, 50 + k)
    gh.hooks.append(meanwhile)
    finish(gh, docs, blobs, NOW)
    finish(gh, docs, blobs, NOW)
    found = {**audit(gh, docs), "gone_unmarked": []}
    finish(gh, docs, blobs, NEXT_DAY)
    return {**found, "gone_unmarked": audit(gh, docs)["gone_unmarked"]}


def test_two_scrapes_of_one_repository_at_once_lose_nothing() -> None:
    _, requests = points("first")
    bad = {k: found for k in range(1, requests + 1) if (found := overlapping_scrapes(k)) != CLEAN}
    assert bad == {}
