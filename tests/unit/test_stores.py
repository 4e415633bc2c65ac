"""Tests of the embedded storage adapters: LocalBlobStore and SqliteDocumentStore.

The contract they share with the Azure adapters is in tests/store_contract.py; this file adds
what is particular to files and SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store_contract import BlobStoreContract, DocumentStoreContract, ScaleQueryContract, doc
from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
from triage.domain.errors import ConcurrencyError
from triage.ports.stores import BlobStore


def stray_files(root: Path) -> list[str]:
    """Temp files (and anything else hidden) left under ``root``, apart from the lock file."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob(".*") if p.name != ".lock")


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    """A blob store in a temporary folder."""
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def docs(tmp_path: Path) -> Iterator[SqliteDocumentStore]:
    """A document store in a temporary SQLite file, closed afterwards."""
    store = SqliteDocumentStore(tmp_path / "db" / "triage.db")
    yield store
    store.close()


# --- LocalBlobStore ------------------------------------------------------------------


class TestLocalBlobStore(BlobStoreContract):
    def no_leftovers(self, blobs: BlobStore) -> None:
        root = blobs.local_path("probe").parent  # type: ignore[union-attr]
        assert stray_files(root) == []
        assert not (root.parent / "x").exists()  # "../x" did not escape the root


def test_local_path_is_the_file_under_the_root(blobs: LocalBlobStore, tmp_path: Path) -> None:
    blobs.put("models/o/r/v1/manifest.json", b"{}")
    assert blobs.local_path("models/o/r/v1/manifest.json") == tmp_path / "blobs" / "models/o/r/v1/manifest.json"


def test_list_hides_internal_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("a", b"1")
    assert (tmp_path / ".lock").exists() and store.list() == ["a"]


def test_no_temp_files_left_after_writes(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for i in range(5):
        store.put("dir/blob.bin", bytes([i]) * 100)
        store.put(f"dir/other{i}", b"x")
    assert stray_files(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["blob.bin"] + [f"other{i}" for i in range(5)]


def test_two_instances_on_one_root_see_each_others_writes(tmp_path: Path) -> None:
    one, two = LocalBlobStore(tmp_path), LocalBlobStore(tmp_path)
    etag = one.put("shared", b"1")
    assert two.get("shared") == b"1" and two.etag("shared") == etag
    two.put("shared", b"2", if_match=etag)
    with pytest.raises(ConcurrencyError):
        one.put("shared", b"3", if_match=etag)


# --- SqliteDocumentStore -------------------------------------------------------------


class TestSqliteDocumentStore(DocumentStoreContract, ScaleQueryContract):
    pass


def test_persistence_across_two_instances(tmp_path: Path) -> None:
    path = tmp_path / "state" / "triage.db"
    first = SqliteDocumentStore(path)
    try:
        first.upsert("issues", doc("1", title="persisted", nested={"k": [1, 2]}))
        first.upsert_many("issues", [doc("2"), doc("3")])
    finally:
        first.close()
    second = SqliteDocumentStore(path)
    try:
        assert second.get("issues", "o/r", "1") == doc("1", title="persisted", nested={"k": [1, 2]})
        assert [d["id"] for d in second.query("issues", "o/r")] == ["1", "2", "3"]
    finally:
        second.close()


def test_memory_store_works(tmp_path: Path) -> None:
    store = SqliteDocumentStore(":memory:")
    try:
        store.upsert("c", doc("1"))
        assert store.get("c", "o/r", "1") == doc("1")
    finally:
        store.close()
    assert not (tmp_path / ":memory:").exists()
