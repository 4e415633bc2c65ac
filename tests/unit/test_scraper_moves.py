"""A renamed or transferred repository: followed, recorded, its data carried to the new name; the old name keeps
working and a carry that crashes is finished (fake GitHub, embedded stores)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fake_github import FakeGitHub
from tests.unit.test_scraper_support import Crash, CrashingDocs, MemoryBlobs
from triage.adapters.local.stores import SqliteDocumentStore
from triage.app.bootstrap import Services, build_services
from triage.app.moves import MOVED_ID, carry_repository, current_name
from triage.app.scraping import scrape_repository
from triage.app.settings import Config, Settings
from triage.data.ingest import stored_issues
from triage.domain.errors import InputError
from triage.ports.records import CURSORS, ISSUES, PREDICTIONS

OLD, NEW = "octo/widgets", "octo-org/gadgets"


def services(tmp_path: Path, gh: FakeGitHub, docs: object | None = None) -> Services:
    config = Config(settings=Settings(home=tmp_path))
    return build_services(config, blobs=MemoryBlobs(), docs=docs or SqliteDocumentStore(":memory:"),  # type: ignore
                          github=lambda: gh)


def scraped_world(tmp_path: Path) -> tuple[FakeGitHub, Services]:
    gh = FakeGitHub(OLD)
    for i in range(1, 26):
        gh.open_issue(f"Crash {i}", labels=["bug"])
    s = services(tmp_path, gh)
    scrape_repository(s, OLD)
    s.docs.upsert(PREDICTIONS, {"id": "3:v1", "repo": OLD, "number": 3})
    s.blobs.put(f"models/{OLD}/v1/model.onnx", b"weights")
    s.blobs.put(f"models/{OLD}/v1/manifest.json", b"{}")
    s.blobs.put(f"models/{OLD}/current.json", b'{"version": "v1"}')
    s.blobs.put(f"datasets/{OLD}/d1/train.jsonl", b"")
    return gh, s


def test_a_renamed_repository_is_followed_and_its_data_carried_to_the_new_name(tmp_path: Path) -> None:
    gh, s = scraped_world(tmp_path)
    gh.rename_repository("Octo-Org/Gadgets")
    gh.open_issue("Crash after the rename", labels=["bug"])
    result = scrape_repository(s, OLD)  # the configured name
    assert result["repo"] == NEW and result["complete"] and result["mode"] == "incremental", "the cursor came along"
    assert current_name(s.docs, OLD) == NEW and current_name(s.docs, "Octo/Widgets") == NEW
    assert s.docs.get(CURSORS, OLD, MOVED_ID)["to"] == NEW
    assert [d["id"] for d in s.docs.query(CURSORS, OLD)] == [MOVED_ID], "nothing else is left under the old name"
    assert s.docs.query(ISSUES, OLD) == [] and s.docs.query(PREDICTIONS, OLD) == []
    issues = stored_issues(s.docs, NEW)
    assert len(issues) == 26 and all(i.repo == NEW for i in issues)
    assert s.docs.get(PREDICTIONS, NEW, "3:v1")["repo"] == NEW
    assert s.blobs.get(f"models/{NEW}/v1/model.onnx") == b"weights"
    assert s.blobs.list(f"models/{OLD}/") == [] and s.blobs.list(f"datasets/{NEW}/") == [f"datasets/{NEW}/d1/train.jsonl"]
    gh.calls.clear()
    scrape_repository(s, OLD)
    again = scrape_repository(s, OLD)
    assert again["repo"] == NEW and again["not_modified"], "later work under the old name lands in one place"
    assert all(call.startswith(f"GET /repos/{NEW}/") for call in gh.calls), "asked under the new name only"


def test_a_carry_that_crashes_at_any_write_is_finished_by_the_next_scrape(tmp_path: Path) -> None:
    gh, s = scraped_world(tmp_path)
    gh.rename_repository(NEW)
    counter = CrashingDocs(s.docs, None)  # type: ignore[arg-type]
    s.docs = counter  # type: ignore[assignment]
    scrape_repository(s, OLD)
    assert counter.writes > 30
    for point in range(1, counter.writes + 1, 3):
        gh, s = scraped_world(tmp_path / str(point))
        gh.rename_repository(NEW)
        inner = s.docs
        s.docs = CrashingDocs(inner, point)  # type: ignore[assignment]
        with pytest.raises(Crash):
            scrape_repository(s, OLD)
        s.docs = inner
        assert scrape_repository(s, OLD)["repo"] == NEW
        assert [d["id"] for d in inner.query(CURSORS, OLD)] == [MOVED_ID], f"crash at write {point}"
        assert len(stored_issues(inner, NEW)) == 25 and inner.query(ISSUES, OLD) == []
        assert s.blobs.list(f"models/{OLD}/") == [] and len(s.blobs.list(f"models/{NEW}/")) == 3


def test_a_crash_after_the_record_leaves_a_carry_the_next_scrape_finishes(tmp_path: Path) -> None:
    gh, s = scraped_world(tmp_path)
    gh.rename_repository(NEW)
    inner = s.docs
    crashing = CrashingDocs(inner, None)
    original = crashing.upsert

    def record_then_die(container: str, doc: dict) -> None:
        original(container, doc)
        if doc.get("id") == MOVED_ID:
            raise Crash("after the record")
    crashing.upsert = record_then_die  # type: ignore[method-assign]
    s.docs = crashing  # type: ignore[assignment]
    with pytest.raises(Crash):
        scrape_repository(s, OLD)
    s.docs = inner
    assert inner.query(ISSUES, OLD), "the old copies are still there"
    result = scrape_repository(s, OLD)
    assert result["repo"] == NEW and inner.query(ISSUES, OLD) == [] and len(stored_issues(inner, NEW)) == 25


def test_renamed_back_and_forth_resolves_to_the_current_name(tmp_path: Path) -> None:
    gh, s = scraped_world(tmp_path)
    gh.rename_repository(NEW)
    scrape_repository(s, OLD)
    gh.rename_repository(OLD)
    gh.old_names.discard(OLD)
    result = scrape_repository(s, NEW)
    assert result["repo"] == OLD and current_name(s.docs, NEW) == OLD and current_name(s.docs, OLD) == OLD
    assert len(stored_issues(s.docs, OLD)) == 25


def test_a_loop_of_recorded_moves_is_a_clear_error(tmp_path: Path) -> None:
    docs = SqliteDocumentStore(":memory:")
    docs.upsert(CURSORS, {"id": MOVED_ID, "repo": "a/b", "to": "c/d"})
    docs.upsert(CURSORS, {"id": MOVED_ID, "repo": "c/d", "to": "a/b"})
    with pytest.raises(InputError, match="loop"):
        current_name(docs, "a/b")
    assert carry_repository(docs, MemoryBlobs(), "x/y", "X/Y")["documents"] == 0


def test_a_scrape_in_bounded_calls_follows_a_rename_between_calls(tmp_path: Path) -> None:
    gh = FakeGitHub(OLD)
    for i in range(1, 41):
        gh.open_issue(f"Crash {i}", labels=["bug"])
    s = services(tmp_path, gh)
    first = scrape_repository(s, OLD, page_budget=1)
    assert not first["complete"]
    gh.rename_repository(NEW)
    calls = [scrape_repository(s, OLD, page_budget=1) for _ in range(3)]
    assert calls[0]["repo"] == NEW and calls[0]["mode"] == "resume", "the run goes on under the new name"
    assert calls[-1]["complete"]
    assert len(stored_issues(s.docs, NEW)) == 40 and s.docs.query(ISSUES, OLD) == []
