"""Tests of the embedded storage adapters: LocalBlobStore and SqliteDocumentStore."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from triage.errors import ConcurrencyError, InputError, NotFoundError
from triage.stores import LocalBlobStore, SqliteDocumentStore


def stray_files(root: Path) -> list[str]:
    """Temp files (and anything else hidden) left under ``root``, apart from the lock file."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob(".*") if p.name != ".lock")


@pytest.fixture
def docs(tmp_path: Path) -> Iterator[SqliteDocumentStore]:
    """A document store in a temporary SQLite file, closed afterwards."""
    store = SqliteDocumentStore(tmp_path / "db" / "triage.db")
    yield store
    store.close()


# --- LocalBlobStore ------------------------------------------------------------------


def test_put_get_and_etag(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    etag = store.put("models/o/r/v1/manifest.json", b'{"a": 1}')
    assert store.get("models/o/r/v1/manifest.json") == b'{"a": 1}'
    assert store.etag("models/o/r/v1/manifest.json") == etag
    assert etag.startswith('"') and etag.endswith('"')
    new = store.put("models/o/r/v1/manifest.json", b'{"a": 2}')
    assert new != etag and store.get("models/o/r/v1/manifest.json") == b'{"a": 2}'
    assert store.etag("missing/blob") is None
    assert store.local_path("models/o/r/v1/manifest.json") == tmp_path / "blobs" / "models/o/r/v1/manifest.json"


def test_list_is_sorted_filtered_by_prefix_and_hides_internal_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for name in ("b/2", "a/1", "a/sub/3", "c"):
        store.put(name, name.encode())
    assert store.list() == ["a/1", "a/sub/3", "b/2", "c"]
    assert store.list("a/") == ["a/1", "a/sub/3"]
    assert store.list("zzz") == []


def test_delete(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("x/y", b"1")
    store.delete("x/y")
    assert store.etag("x/y") is None and store.list() == []
    store.delete("x/y")  # deleting a missing blob is fine
    with pytest.raises(NotFoundError):
        store.get("x/y")


def test_get_missing_raises_not_found(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(NotFoundError, match="nope/blob"):
        store.get("nope/blob")


def test_get_of_a_folder_name_raises_not_found(tmp_path: Path) -> None:
    """``models/o/r`` is a prefix, not a blob (as in Azure): reading it is NotFound.
    """
    store = LocalBlobStore(tmp_path)
    store.put("models/o/r/current.json", b"{}")
    assert store.etag("models/o/r") is None
    with pytest.raises(NotFoundError):
        store.get("models/o/r")


def test_if_match_with_current_etag_succeeds(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    etag = store.put("p.json", b"v1")
    new = store.put("p.json", b"v2", if_match=etag)
    assert store.get("p.json") == b"v2" and store.etag("p.json") == new


def test_if_match_with_stale_etag_raises_and_keeps_content(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    stale = store.put("p.json", b"v1")
    store.put("p.json", b"v2")
    with pytest.raises(ConcurrencyError):
        store.put("p.json", b"v3", if_match=stale)
    assert store.get("p.json") == b"v2"
    with pytest.raises(ConcurrencyError):
        store.put("absent.json", b"v1", if_match=stale)
    assert store.etag("absent.json") is None
    assert stray_files(tmp_path) == []


def test_if_none_match_on_existing_blob_raises(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("frozen.json", b"first", if_none_match=True)
    with pytest.raises(ConcurrencyError):
        store.put("frozen.json", b"second", if_none_match=True)
    assert store.get("frozen.json") == b"first"


@pytest.mark.parametrize("name", ["../x", "/abs", "a//b", "", "a/./b", "a/../b", "a/"])
def test_invalid_names_raise_input_error(tmp_path: Path, name: str) -> None:
    store = LocalBlobStore(tmp_path / "root")
    with pytest.raises(InputError):
        store.put(name, b"x")
    with pytest.raises(InputError):
        store.get(name)
    assert not (tmp_path / "x").exists()
    assert store.list() == []


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


def doc(doc_id: str, repo: str = "o/r", **fields: Any) -> dict[str, Any]:
    """A document with ``id`` and ``repo``."""
    return {"id": doc_id, "repo": repo, **fields}


def test_upsert_and_get(docs: SqliteDocumentStore) -> None:
    docs.upsert("issues", doc("1", title="first", labels=["a"]))
    assert docs.get("issues", "o/r", "1") == doc("1", title="first", labels=["a"])
    docs.upsert("issues", doc("1", title="replaced"))
    assert docs.get("issues", "o/r", "1") == doc("1", title="replaced")
    assert docs.get("issues", "o/r", "2") is None
    assert docs.get("other-container", "o/r", "1") is None


def test_query_with_equality_filters_sorted_by_id(docs: SqliteDocumentStore) -> None:
    docs.upsert("models", doc("v2", status="candidate", score=1))
    docs.upsert("models", doc("v1", status="champion", score=1))
    docs.upsert("models", doc("v3", status="candidate", score=2))
    assert [d["id"] for d in docs.query("models", "o/r")] == ["v1", "v2", "v3"]
    assert [d["id"] for d in docs.query("models", "o/r", status="candidate")] == ["v2", "v3"]
    assert [d["id"] for d in docs.query("models", "o/r", status="candidate", score=2)] == ["v3"]
    assert docs.query("models", "o/r", status="retired") == []
    assert docs.query("models", "o/r", missing_field="x") == []


def test_partitions_are_isolated_by_repo(docs: SqliteDocumentStore) -> None:
    docs.upsert("issues", doc("1", "o/r", title="mine"))
    docs.upsert("issues", doc("1", "o/other", title="theirs"))
    assert docs.get("issues", "o/r", "1")["title"] == "mine"
    assert docs.get("issues", "o/other", "1")["title"] == "theirs"
    assert [d["title"] for d in docs.query("issues", "o/r")] == ["mine"]
    docs.delete("issues", "o/r", "1")
    assert docs.get("issues", "o/r", "1") is None
    assert docs.get("issues", "o/other", "1") is not None


def test_delete_missing_is_noop(docs: SqliteDocumentStore) -> None:
    docs.delete("issues", "o/r", "404")
    assert docs.query("issues", "o/r") == []


def test_upsert_many(docs: SqliteDocumentStore) -> None:
    docs.upsert("issues", doc("1", title="old"))
    docs.upsert_many("issues", [doc("1", title="new"), doc("2", title="two"), doc("3", "o/x", title="x")])
    assert [d["title"] for d in docs.query("issues", "o/r")] == ["new", "two"]
    assert docs.get("issues", "o/x", "3") == doc("3", "o/x", title="x")
    docs.upsert_many("issues", [])
    assert len(docs.query("issues", "o/r")) == 2


@pytest.mark.parametrize("bad", [{"repo": "o/r"}, {"id": "1"}, {"id": 1, "repo": "o/r"}, {"id": "1", "repo": None}])
def test_upsert_without_string_id_and_repo_raises_input_error(docs: SqliteDocumentStore, bad: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        docs.upsert("issues", bad)
    assert docs.query("issues", "o/r") == []


@pytest.mark.parametrize("bad", [{"repo": "o/r"}, {"id": "1"}, {"id": 2, "repo": "o/r"}])
def test_upsert_many_validates_documents_all_or_nothing(docs: SqliteDocumentStore, bad: dict[str, Any]) -> None:
    """upsert_many honours upsert's contract and writes nothing when one document is invalid.
    """
    with pytest.raises(InputError):
        docs.upsert_many("issues", [doc("9", title="good"), bad])
    assert docs.query("issues", "o/r") == []


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
