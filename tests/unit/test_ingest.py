"""Tests of triage.ingest: snapshots in the blob store and one document per issue."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
from triage.data.ingest import ingest, prune_snapshots, stored_issues
from triage.domain.errors import InputError, NotFoundError
from triage.domain.issues import Issue, LabelEvent
from triage.ports.layout import snapshot_name, snapshots_prefix
from triage.ports.records import ISSUES

from .helpers import REPO, labeled_by, make_issue


@pytest.fixture
def docs(tmp_path: Path) -> Iterator[SqliteDocumentStore]:
    """A document store in a temporary SQLite file, closed afterwards."""
    store = SqliteDocumentStore(tmp_path / "triage.db")
    yield store
    store.close()


def sample_issues() -> list[Issue]:
    """Three issues given out of time order, one with label history and every optional field."""
    rich = Issue(
        repo=REPO, number=2, title="Rich", body="Body", labels=("area-Net", "bug"), state="closed",
        created_at="2020-01-01T00:00:00Z", updated_at="2020-02-01T00:00:00Z", author="alice",
        author_association="MEMBER", is_pull_request=False,
        label_events=(labeled_by("area-Net", "bob"), LabelEvent("bug", "labeled", "x[bot]", "Bot", "2020-01-02T00:00:00Z")),
    )
    return [make_issue(9, ["area-IO"], day=30), rich, make_issue(5, ["area-Xml"], day=10)]


def test_ingest_writes_gzip_snapshot(tmp_path: Path, docs: SqliteDocumentStore) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    result = ingest(sample_issues(), blobs, docs)
    assert result["repo"] == REPO and result["count"] == 3
    name = result["snapshot"]
    assert name.startswith(f"issues/{REPO}/snapshots/") and name.endswith(".jsonl.gz")
    assert blobs.list(f"issues/{REPO}/") == [name]
    lines = gzip.decompress(blobs.get(name)).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["number"] for r in records] == [2, 5, 9]  # by number
    assert [Issue.from_dict(r) for r in records] == sorted(sample_issues(), key=lambda i: i.number)


def test_ingest_upserts_one_document_per_issue(tmp_path: Path, docs: SqliteDocumentStore) -> None:
    ingest(sample_issues(), LocalBlobStore(tmp_path / "blobs"), docs)
    found = docs.query(ISSUES, REPO)
    assert [d["id"] for d in found] == ["2", "5", "9"]
    doc = docs.get(ISSUES, REPO, "2")
    assert doc is not None and doc["title"] == "Rich" and doc["labels"] == ["area-Net", "bug"]
    assert doc["label_events"][1] == {"label": "bug", "action": "labeled", "actor": "x[bot]", "actor_type": "Bot",
                                      "at": "2020-01-02T00:00:00Z", "via_app": None}


def test_stored_issues_round_trip_sorted_by_time(tmp_path: Path, docs: SqliteDocumentStore) -> None:
    ingest(sample_issues(), LocalBlobStore(tmp_path / "blobs"), docs)
    issues = stored_issues(docs, REPO)
    assert [i.number for i in issues] == [2, 5, 9]  # created 2020-01-01, day 10, day 30
    assert issues == sorted(sample_issues(), key=lambda i: i.sort_key)
    rich = issues[0]
    assert rich.human_labels() == ("area-Net",)  # the bot's label survives the round trip as a bot label


def test_reingest_updates_documents_and_adds_snapshot(tmp_path: Path, docs: SqliteDocumentStore) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    ingest(sample_issues(), blobs, docs)
    updated = make_issue(9, ["area-Net"], day=30)
    ingest([updated, make_issue(12, ["area-IO"], day=40)], blobs, docs)
    issues = {i.number: i for i in stored_issues(docs, REPO)}
    assert sorted(issues) == [2, 5, 9, 12]
    assert issues[9] == updated
    assert len(blobs.list(f"issues/{REPO}/snapshots/")) == 2


def test_stored_issues_of_other_repo_not_found(tmp_path: Path, docs: SqliteDocumentStore) -> None:
    with pytest.raises(NotFoundError, match="octo/widgets"):
        stored_issues(docs, REPO)
    ingest(sample_issues(), LocalBlobStore(tmp_path / "blobs"), docs)
    with pytest.raises(NotFoundError):
        stored_issues(docs, "octo/other")


def test_mixed_repos_raise_input_error(tmp_path: Path, docs: SqliteDocumentStore) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(InputError, match="one repository"):
        ingest(sample_issues() + [make_issue(1, repo="octo/other")], blobs, docs)
    with pytest.raises(InputError):
        ingest([], blobs, docs)
    assert blobs.list() == []
    assert docs.query(ISSUES, REPO) == [] and docs.query(ISSUES, "octo/other") == []


@settings(max_examples=60, deadline=None)
@given(stamps=st.lists(st.integers(0, 40), max_size=15), keep=st.integers(0, 9), data=st.data())
def test_pruning_keeps_the_latest_and_the_newest_others(tmp_path_factory: pytest.TempPathFactory, stamps: list[int],
                                                        keep: int, data: st.DataObject) -> None:
    blobs = LocalBlobStore(tmp_path_factory.mktemp("blobs"))
    names = sorted({snapshot_name(REPO, f"20260101T0000{s:02d}Z", f"{i:012x}") for i, s in enumerate(stamps)})
    for name in names:
        blobs.put(name, b"x")
    blobs.put("issues/other/repo/snapshots/20250101T000000Z-0.jsonl.gz", b"y")  # another repository: untouched
    latest = data.draw(st.sampled_from(names)) if names else snapshot_name(REPO, "20270101T000000Z", "f" * 12)
    deleted = prune_snapshots(blobs, REPO, keep, latest)
    left = blobs.list(snapshots_prefix(REPO))
    others = [n for n in names if n != latest]
    assert sorted(deleted + left) == names and not set(deleted) & set(left)
    assert (latest in left) == (latest in names)
    assert sorted(n for n in left if n != latest) == others[len(others) - min(len(others), max(keep - 1, 0)):]
    assert blobs.list("issues/other/repo/snapshots/")
