"""The storage contract every adapter honours, written once.

``tests/unit/test_stores.py`` runs it on the embedded adapters (files, SQLite) and
``tests/integration/test_azure_stores.py`` on the Azure ones (Azurite, the Cosmos emulator):
each subclasses these mixins and provides a ``blobs`` or ``docs`` fixture. What only one
adapter does (file layout, Cosmos system fields, query-field checks) stays in its own file.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest

from triage.domain.errors import ConcurrencyError, InputError, NotFoundError
from triage.ports.stores import ORDERED_FIELDS, BlobStore, DocumentStore, scan


def doc(doc_id: str, repo: str = "o/r", **fields: Any) -> dict[str, Any]:
    """A document with ``id`` and ``repo``."""
    return {"id": doc_id, "repo": repo, **fields}


class BlobStoreContract:
    """Blob behaviour: ETags, prefixes, conditional writes, name checks."""

    def no_leftovers(self, blobs: BlobStore) -> None:
        """Check that a refused write left nothing behind (adapters with temporary files override this)."""

    def test_put_get_and_etag(self, blobs: BlobStore) -> None:
        etag = blobs.put("models/o/r/v1/manifest.json", b'{"a": 1}')
        assert blobs.get("models/o/r/v1/manifest.json") == b'{"a": 1}'
        assert blobs.etag("models/o/r/v1/manifest.json") == etag
        assert etag.startswith('"') and etag.endswith('"')
        new = blobs.put("models/o/r/v1/manifest.json", b'{"a": 2}')
        assert new != etag and blobs.get("models/o/r/v1/manifest.json") == b'{"a": 2}'
        assert blobs.etag("missing/blob") is None

    def test_list_is_sorted_and_filtered_by_prefix(self, blobs: BlobStore) -> None:
        for name in ("b/2", "a/1", "a/sub/3", "c"):
            blobs.put(name, name.encode())
        assert blobs.list() == ["a/1", "a/sub/3", "b/2", "c"]
        assert blobs.list("a/") == ["a/1", "a/sub/3"]
        assert blobs.list("zzz") == []

    def test_delete(self, blobs: BlobStore) -> None:
        blobs.put("x/y", b"1")
        blobs.delete("x/y")
        assert blobs.etag("x/y") is None and blobs.list() == []
        blobs.delete("x/y")  # deleting a missing blob is fine
        with pytest.raises(NotFoundError):
            blobs.get("x/y")

    def test_get_missing_and_folder_names_raise_not_found(self, blobs: BlobStore) -> None:
        """``models/o/r`` is a prefix, not a blob (as in Azure): reading it is NotFound."""
        blobs.put("models/o/r/current.json", b"{}")
        with pytest.raises(NotFoundError, match="nope/blob"):
            blobs.get("nope/blob")
        assert blobs.etag("models/o/r") is None
        with pytest.raises(NotFoundError):
            blobs.get("models/o/r")

    def test_if_match_with_current_etag_succeeds(self, blobs: BlobStore) -> None:
        etag = blobs.put("p.json", b"v1")
        new = blobs.put("p.json", b"v2", if_match=etag)
        assert blobs.get("p.json") == b"v2" and blobs.etag("p.json") == new

    def test_if_match_with_stale_etag_raises_and_keeps_content(self, blobs: BlobStore) -> None:
        stale = blobs.put("p.json", b"v1")
        blobs.put("p.json", b"v2")
        with pytest.raises(ConcurrencyError):
            blobs.put("p.json", b"v3", if_match=stale)
        assert blobs.get("p.json") == b"v2"
        with pytest.raises(ConcurrencyError):
            blobs.put("absent.json", b"v1", if_match=stale)
        assert blobs.etag("absent.json") is None
        self.no_leftovers(blobs)

    def test_if_none_match_on_existing_blob_raises(self, blobs: BlobStore) -> None:
        blobs.put("frozen.json", b"first", if_none_match=True)
        with pytest.raises(ConcurrencyError):
            blobs.put("frozen.json", b"second", if_none_match=True)
        assert blobs.get("frozen.json") == b"first"
        with pytest.raises(ConcurrencyError):
            blobs.put("frozen.json", b"third", if_match=blobs.etag("frozen.json"), if_none_match=True)
        assert blobs.get("frozen.json") == b"first"

    def test_put_from_a_binary_file_reads_it_to_the_end(self, blobs: BlobStore) -> None:
        """A large blob (a dataset split spooled to disk) is written from an open file, never held whole."""
        data = bytes(range(256)) * 12_000  # 3 MB: more than one chunk of the local store and of an upload block
        etag = blobs.put("datasets/o/r/v1/train.jsonl", io.BytesIO(data))
        assert blobs.get("datasets/o/r/v1/train.jsonl") == data and blobs.etag("datasets/o/r/v1/train.jsonl") == etag
        with pytest.raises(ConcurrencyError):
            blobs.put("datasets/o/r/v1/train.jsonl", io.BytesIO(b"other"), if_none_match=True)
        assert blobs.get("datasets/o/r/v1/train.jsonl") == data

    @pytest.mark.parametrize("name", ["../x", "/abs", "a//b", "", "a/./b", "a/../b", "a/"])
    def test_invalid_names_raise_input_error(self, blobs: BlobStore, name: str) -> None:
        with pytest.raises(InputError):
            blobs.put(name, b"x")
        with pytest.raises(InputError):
            blobs.get(name)
        assert blobs.list() == []
        self.no_leftovers(blobs)


class DocumentStoreContract:
    """Document behaviour: upserts, create-if-absent, partitions by repository, equality queries, validation."""

    def test_upsert_and_get(self, docs: DocumentStore) -> None:
        docs.upsert("issues", doc("1", title="first", labels=["a"], nested={"k": [1, 2.5, None, True]}))
        assert docs.get("issues", "o/r", "1") == doc("1", title="first", labels=["a"], nested={"k": [1, 2.5, None, True]})
        docs.upsert("issues", doc("1", title="replaced"))
        assert docs.get("issues", "o/r", "1") == doc("1", title="replaced")
        assert docs.query("issues", "o/r") == [doc("1", title="replaced")]

    def test_get_missing_returns_none(self, docs: DocumentStore) -> None:
        docs.upsert("issues", doc("1"))
        assert docs.get("issues", "o/r", "2") is None
        assert docs.get("issues", "o/other", "1") is None
        assert docs.get("never-used-container", "o/r", "1") is None

    def test_query_with_equality_filters_sorted_by_id(self, docs: DocumentStore) -> None:
        docs.upsert("models", doc("v2", status="candidate", score=1))
        docs.upsert("models", doc("v1", status="champion", score=1))
        docs.upsert("models", doc("v3", status="candidate", score=2, value=True))
        assert [d["id"] for d in docs.query("models", "o/r")] == ["v1", "v2", "v3"]
        assert [d["id"] for d in docs.query("models", "o/r", status="candidate")] == ["v2", "v3"]
        assert [d["id"] for d in docs.query("models", "o/r", status="candidate", score=2)] == ["v3"]
        assert [d["id"] for d in docs.query("models", "o/r", value=True)] == ["v3"]  # a SQL keyword as a field
        assert docs.query("models", "o/r", status="retired") == []
        assert docs.query("models", "o/r", missing_field="x") == []
        assert [d["id"] for d in docs.query("models", "o/r", value=None)] == ["v1", "v2"]  # absent counts as None

    def test_ids_with_slashes_and_odd_characters_round_trip(self, docs: DocumentStore) -> None:
        """GitHub label names such as ``kind/bug`` become ids (the Cosmos SDK rejects ``/`` in ids)."""
        odd = ["kind/bug", "what?", "#1", "back\\slash", "100%", "%2F"]
        for name in odd:
            docs.upsert("labels", doc(name, name=name))
        assert sorted(d["id"] for d in docs.query("labels", "o/r")) == sorted(odd)
        for name in odd:
            assert docs.get("labels", "o/r", name) == doc(name, name=name)
            assert docs.query("labels", "o/r", id=name) == [doc(name, name=name)]
        docs.delete("labels", "o/r", "kind/bug")
        assert docs.get("labels", "o/r", "kind/bug") is None and docs.get("labels", "o/r", "%2F") is not None

    def test_partitions_are_isolated_by_repo(self, docs: DocumentStore) -> None:
        docs.upsert("issues", doc("1", "o/r", title="mine"))
        docs.upsert("issues", doc("1", "o/other", title="theirs"))
        assert docs.get("issues", "o/r", "1")["title"] == "mine"  # type: ignore[index]
        assert docs.get("issues", "o/other", "1")["title"] == "theirs"  # type: ignore[index]
        assert [d["title"] for d in docs.query("issues", "o/r")] == ["mine"]
        docs.delete("issues", "o/r", "1")
        assert docs.get("issues", "o/r", "1") is None
        assert docs.get("issues", "o/other", "1") is not None

    def test_containers_are_separate(self, docs: DocumentStore) -> None:
        docs.upsert("issues", doc("1", title="issue"))
        docs.upsert("predictions", doc("1", title="prediction"))
        assert docs.get("issues", "o/r", "1")["title"] == "issue"  # type: ignore[index]
        assert [d["title"] for d in docs.query("predictions", "o/r")] == ["prediction"]

    def test_delete_missing_is_noop(self, docs: DocumentStore) -> None:
        docs.delete("issues", "o/r", "404")
        assert docs.query("issues", "o/r") == []
        docs.upsert("issues", doc("1"))
        docs.delete("issues", "o/r", "404")
        assert docs.query("issues", "o/r") == [doc("1")]

    def test_upsert_many(self, docs: DocumentStore) -> None:
        docs.upsert("issues", doc("1", title="old"))
        docs.upsert_many("issues", [doc("1", title="new"), doc("2", title="two"), doc("3", "o/x", title="x")])
        assert [d["title"] for d in docs.query("issues", "o/r")] == ["new", "two"]
        assert docs.get("issues", "o/x", "3") == doc("3", "o/x", title="x")
        docs.upsert_many("issues", [])
        assert len(docs.query("issues", "o/r")) == 2

    @pytest.mark.parametrize("bad", [{"repo": "o/r"}, {"id": "1"}, {"id": 1, "repo": "o/r"}, {"id": "1", "repo": None}])
    def test_upsert_without_string_id_and_repo_raises_input_error(self, docs: DocumentStore, bad: dict[str, Any]) -> None:
        with pytest.raises(InputError):
            docs.upsert("issues", bad)
        assert docs.query("issues", "o/r") == []

    @pytest.mark.parametrize("bad", [{"repo": "o/r"}, {"id": "1"}, {"id": 2, "repo": "o/r"}])
    def test_upsert_many_validates_documents_all_or_nothing(self, docs: DocumentStore, bad: dict[str, Any]) -> None:
        """upsert_many honours upsert's contract and writes nothing when one document is invalid."""
        with pytest.raises(InputError):
            docs.upsert_many("issues", [doc("9", title="good"), bad])
        assert docs.query("issues", "o/r") == []

    def test_create_inserts_only_when_the_id_is_free(self, docs: DocumentStore) -> None:
        assert docs.create("deliveries", doc("d-1", state="claimed")) is True
        assert docs.create("deliveries", doc("d-1", state="other")) is False
        assert docs.get("deliveries", "o/r", "d-1") == doc("d-1", state="claimed")  # the first one is kept
        assert docs.create("deliveries", doc("d-1", "o/other")) is True  # another partition
        assert docs.create("issues", doc("d-1")) is True  # another container
        docs.upsert("deliveries", doc("d-1", state="handled"))  # upsert still replaces
        assert docs.create("deliveries", doc("d-1")) is False
        assert docs.get("deliveries", "o/r", "d-1") == doc("d-1", state="handled")
        docs.delete("deliveries", "o/r", "d-1")
        assert docs.create("deliveries", doc("d-1", state="again")) is True
        assert docs.query("deliveries", "o/r") == [doc("d-1", state="again")]

    def test_create_with_ids_that_need_encoding(self, docs: DocumentStore) -> None:
        for name in ("sha256:00ff", "kind/bug", "100%", "a?b#c"):
            assert docs.create("labels", doc(name, name=name)) is True
            assert docs.create("labels", doc(name, name="second")) is False
            assert docs.get("labels", "o/r", name) == doc(name, name=name)

    @pytest.mark.parametrize("bad", [{"repo": "o/r"}, {"id": "1"}, {"id": 1, "repo": "o/r"}, {"id": "1", "repo": None}])
    def test_create_without_string_id_and_repo_raises_input_error(self, docs: DocumentStore, bad: dict[str, Any]) -> None:
        with pytest.raises(InputError):
            docs.create("deliveries", bad)
        assert docs.query("deliveries", "o/r") == []

    def test_concurrent_creates_of_one_id_have_exactly_one_winner(self, docs: DocumentStore) -> None:
        """Threads released together all try to claim the same ids: one wins each id, and its document is kept."""
        threads, rounds = 8, 4
        barrier = threading.Barrier(threads)
        wins: list[tuple[int, int]] = []
        errors: list[BaseException] = []

        def claim(worker: int) -> None:
            try:
                for n in range(rounds):
                    barrier.wait(timeout=30)
                    if docs.create("deliveries", doc(f"race-{n}", worker=worker)):
                        wins.append((n, worker))
            except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
                errors.append(exc)

        pool = [threading.Thread(target=claim, args=(w,)) for w in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=60)
        assert errors == []
        assert sorted(n for n, _ in wins) == list(range(rounds)), wins
        for n, worker in wins:
            assert docs.get("deliveries", "o/r", f"race-{n}") == doc(f"race-{n}", worker=worker)


class ScaleQueryContract:
    """The bounded reads that keep a repository of any size cheap: keyset pages, counts, the newest documents
    by an ordered field, and the documents of a few issues; all within one partition."""

    def test_pages_hold_every_document_once_and_only_the_partitions_own(self, docs: DocumentStore) -> None:
        docs.upsert_many("issues", [doc(str(n), number=n, state="open" if n % 3 else "closed") for n in range(1, 24)])
        docs.upsert("issues", doc("1", "o/other", number=1))
        seen, after, pages = [], None, 0
        while True:
            found, after = docs.page("issues", "o/r", after=after, limit=5)
            assert len(found) <= 5
            seen += [d["number"] for d in found]
            pages += 1
            if after is None:
                break
        assert sorted(seen) == list(range(1, 24)) and pages == 5, "23 documents in pages of 5; the 5th is short"
        assert sorted(d["number"] for d in scan(docs, "issues", "o/r", page_size=4, state="closed")) == [3, 6, 9, 12, 15,
                                                                                                      18, 21]
        assert docs.page("issues", "o/none") == ([], None)

    def test_a_page_boundary_survives_writes_between_pages(self, docs: DocumentStore) -> None:
        docs.upsert_many("issues", [doc(f"{n:02d}", number=n) for n in range(10, 30)])
        first, after = docs.page("issues", "o/r", limit=10)
        docs.upsert("issues", doc("00", number=0))  # sorts before everything read: not read again, nothing skipped
        docs.delete("issues", "o/r", first[0]["id"])
        rest = [d["number"] for d in scan_from(docs, after)]
        assert sorted([d["number"] for d in first] + rest) == list(range(10, 30))

    def test_count(self, docs: DocumentStore) -> None:
        docs.upsert_many("predictions", [doc(f"{n}:v1", number=n, kind="model" if n % 2 else "no-model")
                                         for n in range(1, 12)])
        docs.upsert("predictions", doc("x", "o/other", number=1, kind="model"))
        assert docs.count("predictions", "o/r") == 11
        assert docs.count("predictions", "o/r", kind="model") == 6
        assert docs.count("predictions", "o/r", kind="model", number=3) == 1
        assert docs.count("predictions", "o/r", missing=None) == 11 and docs.count("empty-container", "o/r") == 0

    @pytest.mark.parametrize("field", ORDERED_FIELDS)
    def test_newest_orders_by_the_field_then_the_id_and_pages_through_ties(self, docs: DocumentStore,
                                                                           field: str) -> None:
        stamps = ["2026-01-01T00:00:0" + str(n % 4) for n in range(13)]  # many ties
        docs.upsert_many("predictions", [doc(f"{n:02d}", number=n, kind="model" if n != 5 else "other",
                                             **{field: stamps[n]}) for n in range(13)])
        docs.upsert("predictions", doc("unset", number=99))  # no value: never among the newest
        docs.upsert("predictions", doc("late", "o/other", number=1, **{field: "2030-01-01T00:00:00"}))
        expected = sorted(((stamps[n], f"{n:02d}") for n in range(13)), reverse=True)
        got, after = [], None
        while True:
            found, after = docs.newest("predictions", "o/r", field, limit=3, after=after)
            assert len(found) <= 3
            got += [(d[field], d["id"]) for d in found]
            if after is None:
                break
        assert got == expected
        top, _ = docs.newest("predictions", "o/r", field, limit=4, kind="model")
        assert [d["id"] for d in top] == [i for _, i in expected if i != "05"][:4]
        with pytest.raises(InputError):
            docs.newest("predictions", "o/r", "title", limit=3)

    def test_query_in_finds_the_documents_of_a_few_issues(self, docs: DocumentStore) -> None:
        docs.upsert_many("feedback", [doc(f"f{n}", number=n % 7, verdict="confirmed" if n % 2 else "corrected")
                                      for n in range(30)])
        docs.upsert("feedback", doc("other", "o/other", number=3))
        found = docs.query_in("feedback", "o/r", "number", [3, 5, 3, 404])
        assert [d["id"] for d in found] == sorted(f"f{n}" for n in range(30) if n % 7 in (3, 5))
        assert {d["number"] for d in docs.query_in("feedback", "o/r", "number", [3], verdict="confirmed")} == {3}
        assert docs.query_in("feedback", "o/r", "number", []) == []
        many = docs.query_in("feedback", "o/r", "number", list(range(1000)))  # more values than one IN takes
        assert len(many) == 30


def scan_from(docs: DocumentStore, after: str | None) -> list[dict[str, Any]]:
    """The documents of the pages after continuation ``after`` (nothing when it is None)."""
    found: list[dict[str, Any]] = []
    while after is not None:
        page, after = docs.page("issues", "o/r", after=after, limit=10)
        found += page
    return found
