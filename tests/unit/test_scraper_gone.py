"""Deleted and transferred issues are marked, kept and never learned from; issues turned off and rate limits end a
call cleanly (fake GitHub)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.fake_github import FakeGitHub
from tests.unit.test_scraper_support import NEXT_DAY, NOW, REPO, MemoryBlobs, finish
from triage.adapters.local.stores import SqliteDocumentStore
from triage.data.dataset import DatasetSpec, build_dataset
from triage.data.ingest import stored_issues
from triage.data.scraper import cursor_status, scrape
from triage.domain.errors import RateLimited
from triage.ports.records import CURSORS, ISSUES


def labeled_world() -> FakeGitHub:
    gh = FakeGitHub(REPO)
    for i in range(1, 31):
        gh.open_issue(f"{'Crash' if i % 2 else 'Typo'} in part {i}", f"Details about part {i} and more words",
                      labels=["bug" if i % 2 else "docs"])
    return gh


def test_deleted_and_transferred_issues_are_marked_kept_and_left_out_of_datasets() -> None:
    gh, docs, blobs = labeled_world(), SqliteDocumentStore(":memory:"), MemoryBlobs()
    finish(gh, docs, blobs, NOW)
    gh.delete_issue(4)
    new_number = gh.transfer_issue(7, "Octo/Elsewhere")
    finish(gh, docs, blobs, NOW)  # an incremental run cannot see deletions...
    assert not docs.get(ISSUES, REPO, "4").get("gone")
    result = scrape(gh, docs, blobs, REPO, per_page=10, now=NEXT_DAY)  # ...the daily full run asks for them
    assert result.mode == "full" and result.complete and result.gone == 2
    deleted, moved = docs.get(ISSUES, REPO, "4"), docs.get(ISSUES, REPO, "7")
    assert deleted["gone"] == "deleted" and deleted["title"] == "Typo in part 4", "kept, as it was last seen"
    assert moved["gone"] == "transferred" and moved["moved_to"] == f"octo/elsewhere#{new_number}"
    assert {i.number for i in stored_issues(docs, REPO) if i.gone} == {4, 7}
    dataset = build_dataset(stored_issues(docs, REPO), DatasetSpec(min_examples=2))
    assert dataset.dropped["gone"] == 2
    assert not {4, 7} & {row["number"] for rows in dataset.splits.values() for row in rows}
    again = scrape(gh, docs, blobs, REPO, per_page=10, now=NEXT_DAY.replace(day=NEXT_DAY.day + 2))
    assert again.gone == 0 and again.issue_requests == 0, "marked issues are not asked for again"


def test_an_issue_deleted_before_its_events_are_fetched_is_marked_not_retried_for_ever() -> None:
    gh, docs, blobs = labeled_world(), SqliteDocumentStore(":memory:"), MemoryBlobs()
    finish(gh, docs, blobs, NOW)
    gh.label(12, "needs-info", "maintainer")
    gh.label(13, "needs-info", "maintainer")
    gh.hooks.append(lambda line: gh.delete_issue(12) if line.endswith("/issues/12/events") and 12 in gh.issues
                    else None)
    result = scrape(gh, docs, blobs, REPO, per_page=10, now=NOW)
    assert result.complete and result.gone == 1 and docs.get(ISSUES, REPO, "12")["gone"] == "deleted"
    assert [e["label"] for e in docs.get(ISSUES, REPO, "13")["label_events"]] == ["bug", "needs-info"]


def test_issues_turned_off_end_the_scrape_with_a_clear_status_and_resume_when_back() -> None:
    gh, docs, blobs = labeled_world(), SqliteDocumentStore(":memory:"), MemoryBlobs()
    gh.hooks.append(lambda line: gh.set_issues_enabled(False) if len(gh.calls) == 2 else None)  # after page one
    first = scrape(gh, docs, blobs, REPO, per_page=10, now=NOW)
    assert first.complete and first.status == "issues-disabled" and "disabled" in first.stopped
    cursor = docs.get(CURSORS, REPO, "scrape")
    assert cursor["blocked"]["status"] == "issues-disabled" and cursor["in_progress"]["phase"] == "issues"
    assert cursor_status(docs, REPO)["blocked"] == "issues-disabled", "what /api/status shows"
    gh.hooks.clear()
    gh.calls.clear()
    again = scrape(gh, docs, blobs, REPO, per_page=10, now=NOW)
    assert again.status == "issues-disabled" and len(gh.calls) == 1, "one request, no retry loop"
    gh.set_issues_enabled(True)
    back = scrape(gh, docs, blobs, REPO, per_page=10, now=NOW)
    assert back.mode == "resume" and back.complete and back.status == "ok"
    assert "blocked" not in docs.get(CURSORS, REPO, "scrape") and cursor_status(docs, REPO)["blocked"] is None
    assert {i.number for i in stored_issues(docs, REPO)} == set(gh.issues)


def test_a_primary_rate_limit_ends_the_call_with_the_reset_time_and_the_next_call_goes_on() -> None:
    gh, docs, blobs = labeled_world(), SqliteDocumentStore(":memory:"), MemoryBlobs()
    reset = datetime(2026, 3, 1, 5, 0, tzinfo=timezone.utc).timestamp()
    seen = []

    def limit(line: str) -> None:
        seen.append(line)
        if len(seen) == 3:
            raise RateLimited("GitHub's rate limit is exhausted until 05:00:00 UTC", reset)
    gh.hooks.append(limit)
    stopped = scrape(gh, docs, blobs, REPO, per_page=10, now=NOW)
    assert not stopped.complete and stopped.status == "rate-limited"
    assert stopped.retry_at == "2026-03-01T05:00:00+00:00"
    whole = SqliteDocumentStore(":memory:")
    finish(labeled_world(), whole, MemoryBlobs(), NOW)
    assert scrape(gh, docs, blobs, REPO, per_page=10, now=NOW).complete
    assert docs.query(ISSUES, REPO) == whole.query(ISSUES, REPO)


def test_the_fake_answers_deleted_issues_as_github_does() -> None:
    gh = labeled_world()
    gh.delete_issue(3)
    with pytest.raises(Exception, match="410"):
        gh.get_issue(REPO, 3)
    with pytest.raises(Exception, match="404"):
        gh.get_issue(REPO, 999)
