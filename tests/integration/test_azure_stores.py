"""The Azure adapters against local emulators: Azurite (Blob, Queue) and cosmosdb-server (Cosmos DB).

The same contract as the embedded stores (tests/unit/test_stores.py), plus what is Azure-specific:
ETag compare-and-swap on the server, the Cosmos system fields, ids Cosmos would reject, and the
base64 message encoding the Functions queue trigger expects.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.cosmos.exceptions import CosmosHttpResponseError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from tests.emulators.fixtures import Azurite, Cosmos
from triage.azure_stores import AzureBlobStore, AzureQueue, CosmosDocumentStore
from triage.errors import ConcurrencyError, InputError, NotFoundError
from triage.registry import read_pointer, write_pointer


def unique(prefix: str) -> str:
    """A fresh resource name (lowercase letters, digits and hyphens suit containers and queues)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def blobs(azurite: Azurite) -> Iterator[AzureBlobStore]:  # noqa: F811
    """A blob store on a fresh container."""
    store = AzureBlobStore.from_connection_string(azurite.connection_string, unique("blobs"))
    yield store
    store.close()


@pytest.fixture
def docs(cosmos: Cosmos) -> Iterator[CosmosDocumentStore]:  # noqa: F811
    """A document store on a fresh database."""
    store = CosmosDocumentStore.from_connection_string(cosmos.connection_string, unique("db"),
                                                       enable_endpoint_discovery=False)
    yield store
    store.close()


@pytest.fixture
def queue(azurite: Azurite) -> Iterator[AzureQueue]:  # noqa: F811
    """A message queue whose default queue does not exist yet."""
    store = AzureQueue.from_connection_string(azurite.connection_string, unique("requests"))
    yield store
    store.close()


# --- AzureBlobStore ------------------------------------------------------------------------


def test_put_get_and_etag(blobs: AzureBlobStore) -> None:
    etag = blobs.put("models/o/r/v1/manifest.json", b'{"a": 1}')
    assert blobs.get("models/o/r/v1/manifest.json") == b'{"a": 1}'
    assert blobs.etag("models/o/r/v1/manifest.json") == etag
    assert etag.startswith('"') and etag.endswith('"')
    new = blobs.put("models/o/r/v1/manifest.json", b'{"a": 2}')
    assert new != etag and blobs.get("models/o/r/v1/manifest.json") == b'{"a": 2}'
    assert blobs.etag("missing/blob") is None
    assert blobs.local_path("models/o/r/v1/manifest.json") is None


def test_names_with_spaces_and_unicode_round_trip(blobs: AzureBlobStore) -> None:
    name = "datasets/o/r/v 1/ünïcode + plus.jsonl"
    blobs.put(name, b"x")
    assert blobs.list("datasets/") == [name] and blobs.get(name) == b"x"


def test_list_is_sorted_and_filtered_by_prefix(blobs: AzureBlobStore) -> None:
    for name in ("b/2", "a/1", "a/sub/3", "c"):
        blobs.put(name, name.encode())
    assert blobs.list() == ["a/1", "a/sub/3", "b/2", "c"]
    assert blobs.list("a/") == ["a/1", "a/sub/3"]
    assert blobs.list("zzz") == []


def test_delete(blobs: AzureBlobStore) -> None:
    blobs.put("x/y", b"1")
    blobs.delete("x/y")
    assert blobs.etag("x/y") is None and blobs.list() == []
    blobs.delete("x/y")  # deleting a missing blob is fine
    with pytest.raises(NotFoundError):
        blobs.get("x/y")


def test_get_missing_and_folder_names_raise_not_found(blobs: AzureBlobStore) -> None:
    blobs.put("models/o/r/current.json", b"{}")
    with pytest.raises(NotFoundError, match="nope/blob"):
        blobs.get("nope/blob")
    assert blobs.etag("models/o/r") is None
    with pytest.raises(NotFoundError):
        blobs.get("models/o/r")


def test_if_match_with_current_etag_succeeds(blobs: AzureBlobStore) -> None:
    etag = blobs.put("p.json", b"v1")
    new = blobs.put("p.json", b"v2", if_match=etag)
    assert blobs.get("p.json") == b"v2" and blobs.etag("p.json") == new


def test_if_match_with_stale_etag_raises_and_keeps_content(blobs: AzureBlobStore) -> None:
    stale = blobs.put("p.json", b"v1")
    blobs.put("p.json", b"v2")
    with pytest.raises(ConcurrencyError):
        blobs.put("p.json", b"v3", if_match=stale)
    assert blobs.get("p.json") == b"v2"
    with pytest.raises(ConcurrencyError):
        blobs.put("absent.json", b"v1", if_match=stale)
    assert blobs.etag("absent.json") is None


def test_if_none_match_on_existing_blob_raises(blobs: AzureBlobStore) -> None:
    blobs.put("frozen.json", b"first", if_none_match=True)
    with pytest.raises(ConcurrencyError):
        blobs.put("frozen.json", b"second", if_none_match=True)
    assert blobs.get("frozen.json") == b"first"
    with pytest.raises(ConcurrencyError):
        blobs.put("frozen.json", b"third", if_match=blobs.etag("frozen.json"), if_none_match=True)
    assert blobs.get("frozen.json") == b"first"


@pytest.mark.parametrize("name", ["../x", "/abs", "a//b", "", "a/./b", "a/../b", "a/"])
def test_invalid_names_raise_input_error(blobs: AzureBlobStore, name: str) -> None:
    with pytest.raises(InputError):
        blobs.put(name, b"x")
    with pytest.raises(InputError):
        blobs.get(name)
    assert blobs.list() == []


def test_two_instances_on_one_container_see_each_others_writes(azurite: Azurite) -> None:  # noqa: F811
    container = unique("shared")
    one = AzureBlobStore.from_connection_string(azurite.connection_string, container)
    two = AzureBlobStore.from_connection_string(azurite.connection_string, container)  # container exists: fine
    try:
        etag = one.put("shared", b"1")
        assert two.get("shared") == b"1" and two.etag("shared") == etag
        two.put("shared", b"2", if_match=etag)
        with pytest.raises(ConcurrencyError):
            one.put("shared", b"3", if_match=etag)
    finally:
        one.close()
        two.close()


def test_from_service_uri_with_a_shared_key(azurite: Azurite) -> None:  # noqa: F811
    credential = AzureNamedKeyCredential(azurite.account_name, azurite.account_key)
    store = AzureBlobStore.from_service_uri(azurite.blob_endpoint, unique("uri"), credential=credential)
    try:
        store.put("a/b", b"via uri")
        assert store.get("a/b") == b"via uri" and store.list() == ["a/b"]
    finally:
        store.close()


def test_promotion_pointer_compare_and_swap(blobs: AzureBlobStore) -> None:
    assert read_pointer(blobs, "o/r") == (None, None)
    write_pointer(blobs, "o/r", "v1", None, None, "first model")
    pointer, etag = read_pointer(blobs, "o/r")
    assert pointer is not None and pointer["version"] == "v1" and etag is not None
    with pytest.raises(ConcurrencyError, match="another promotion"):  # a second "first" promotion
        write_pointer(blobs, "o/r", "v9", None, None, "racing first model")
    write_pointer(blobs, "o/r", "v2", "v1", etag, "better")
    with pytest.raises(ConcurrencyError, match="another promotion"):  # the stale ETag of v1
        write_pointer(blobs, "o/r", "v3", "v1", etag, "lost the race")
    pointer, _ = read_pointer(blobs, "o/r")
    assert pointer is not None and (pointer["version"], pointer["previous"]) == ("v2", "v1")


# --- CosmosDocumentStore -------------------------------------------------------------------


def doc(doc_id: str, repo: str = "o/r", **fields: Any) -> dict[str, Any]:
    """A document with ``id`` and ``repo``."""
    return {"id": doc_id, "repo": repo, **fields}


def test_upsert_and_get_strip_system_fields(docs: CosmosDocumentStore) -> None:
    docs.upsert("issues", doc("1", title="first", labels=["a"], nested={"k": [1, 2.5, None, True]}))
    assert docs.get("issues", "o/r", "1") == doc("1", title="first", labels=["a"], nested={"k": [1, 2.5, None, True]})
    docs.upsert("issues", doc("1", title="replaced"))
    assert docs.get("issues", "o/r", "1") == doc("1", title="replaced")
    assert docs.query("issues", "o/r") == [doc("1", title="replaced")]


def test_get_missing_returns_none(docs: CosmosDocumentStore) -> None:
    """The emulator answers 500 for a missing item; the adapter still says None."""
    docs.upsert("issues", doc("1"))
    assert docs.get("issues", "o/r", "2") is None
    assert docs.get("issues", "o/other", "1") is None
    assert docs.get("never-used-container", "o/r", "1") is None


def test_query_with_equality_filters_sorted_by_id(docs: CosmosDocumentStore) -> None:
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


def test_query_rejects_field_names_that_are_not_identifiers(docs: CosmosDocumentStore) -> None:
    with pytest.raises(InputError):
        docs.query("models", "o/r", **{"a] OR 1=1 --": "x"})


def test_ids_cosmos_forbids_round_trip(docs: CosmosDocumentStore) -> None:
    """GitHub label names such as ``kind/bug`` become ids; the Cosmos SDK rejects ``/`` in ids."""
    odd = ["kind/bug", "what?", "#1", "back\\slash", "100%", "%2F"]
    for name in odd:
        docs.upsert("labels", doc(name, name=name))
    assert sorted(d["id"] for d in docs.query("labels", "o/r")) == sorted(odd)
    for name in odd:
        assert docs.get("labels", "o/r", name) == doc(name, name=name)
        assert docs.query("labels", "o/r", id=name) == [doc(name, name=name)]
    docs.delete("labels", "o/r", "kind/bug")
    assert docs.get("labels", "o/r", "kind/bug") is None and docs.get("labels", "o/r", "%2F") is not None


def test_partitions_are_isolated_by_repo(docs: CosmosDocumentStore) -> None:
    docs.upsert("issues", doc("1", "o/r", title="mine"))
    docs.upsert("issues", doc("1", "o/other", title="theirs"))
    assert docs.get("issues", "o/r", "1")["title"] == "mine"  # type: ignore[index]
    assert docs.get("issues", "o/other", "1")["title"] == "theirs"  # type: ignore[index]
    assert [d["title"] for d in docs.query("issues", "o/r")] == ["mine"]
    docs.delete("issues", "o/r", "1")
    assert docs.get("issues", "o/r", "1") is None
    assert docs.get("issues", "o/other", "1") is not None


def test_containers_are_separate(docs: CosmosDocumentStore) -> None:
    docs.upsert("issues", doc("1", title="issue"))
    docs.upsert("predictions", doc("1", title="prediction"))
    assert docs.get("issues", "o/r", "1")["title"] == "issue"  # type: ignore[index]
    assert [d["title"] for d in docs.query("predictions", "o/r")] == ["prediction"]


def test_delete_missing_is_noop(docs: CosmosDocumentStore) -> None:
    docs.delete("issues", "o/r", "404")
    docs.upsert("issues", doc("1"))
    docs.delete("issues", "o/r", "404")
    assert docs.query("issues", "o/r") == [doc("1")]


def test_upsert_many(docs: CosmosDocumentStore) -> None:
    docs.upsert("issues", doc("1", title="old"))
    docs.upsert_many("issues", [doc("1", title="new"), doc("2", title="two"), doc("3", "o/x", title="x")])
    assert [d["title"] for d in docs.query("issues", "o/r")] == ["new", "two"]
    assert docs.get("issues", "o/x", "3") == doc("3", "o/x", title="x")
    docs.upsert_many("issues", [])
    assert len(docs.query("issues", "o/r")) == 2


@pytest.mark.parametrize("bad", [{"repo": "o/r"}, {"id": "1"}, {"id": 1, "repo": "o/r"}, {"id": "1", "repo": None}])
def test_upsert_without_string_id_and_repo_raises_input_error(docs: CosmosDocumentStore, bad: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        docs.upsert("issues", bad)
    assert docs.query("issues", "o/r") == []


@pytest.mark.parametrize("bad", [{"repo": "o/r"}, {"id": "1"}, {"id": 2, "repo": "o/r"}])
def test_upsert_many_validates_every_document_first(docs: CosmosDocumentStore, bad: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        docs.upsert_many("issues", [doc("9", title="good"), bad])
    assert docs.query("issues", "o/r") == []


def test_from_endpoint_with_a_key_and_an_existing_database(cosmos: Cosmos) -> None:  # noqa: F811
    database = unique("db")
    one = CosmosDocumentStore.from_endpoint(cosmos.endpoint, database, cosmos.key, enable_endpoint_discovery=False)
    two = CosmosDocumentStore.from_endpoint(cosmos.endpoint, database, cosmos.key, enable_endpoint_discovery=False)
    try:
        one.upsert("runs", doc("v1", state="running"))
        assert two.get("runs", "o/r", "v1") == doc("v1", state="running")
    finally:
        one.close()
        two.close()


class _ForbiddenDatabase:
    """A database client as Entra ID sees it: data-plane rights only, so creating containers is 403."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def create_container_if_not_exists(self, **_: Any) -> None:
        raise CosmosHttpResponseError(status_code=403, message="Request blocked by Auth: data plane only")

    def get_container_client(self, name: str) -> Any:
        self.opened.append(name)
        return _EmptyContainer()


class _EmptyContainer:
    def query_items(self, *_: Any, **__: Any) -> list[dict[str, Any]]:
        return []


def test_containers_provisioned_by_the_deployment_are_used_when_creating_is_forbidden() -> None:
    database = _ForbiddenDatabase()
    store = CosmosDocumentStore(database)  # type: ignore[arg-type]
    assert store.query("issues", "o/r") == [] and store.query("issues", "o/r") == []
    assert database.opened == ["issues"]


# --- AzureQueue ----------------------------------------------------------------------------


def test_send_creates_the_queue_and_depth_counts(queue: AzureQueue) -> None:
    assert queue.depth() == 0  # the queue does not exist yet
    queue.send({"repo": "o/r", "number": 1})
    queue.send({"repo": "o/r", "number": 2})
    assert queue.depth() == 2
    queue.send({"repo": "o/r", "number": 3}, queue=f"{queue.name}-poison")
    assert queue.depth(f"{queue.name}-poison") == 1 and queue.depth() == 2


def test_sent_messages_are_base64_json(queue: AzureQueue, azurite: Azurite) -> None:  # noqa: F811
    message = {"repo": "o/r", "number": 7, "title": "Ünïcode ✓", "labels": ["a", "b"]}
    queue.send(message)
    raw = QueueClient.from_connection_string(azurite.connection_string, queue.name)
    decoding = QueueClient.from_connection_string(azurite.connection_string, queue.name,
                                                  message_decode_policy=TextBase64DecodePolicy())
    try:
        [peeked] = decoding.peek_messages()  # as the Functions host (messageEncoding: base64) decodes it
        assert json.loads(peeked.content) == message
        [received] = raw.receive_messages(max_messages=1)
        assert json.loads(base64.b64decode(received.content)) == message
        raw.delete_message(received)
    finally:
        raw.close()
        decoding.close()
    assert queue.depth() == 0


def test_queue_from_service_uri_with_a_shared_key(azurite: Azurite) -> None:  # noqa: F811
    credential = AzureNamedKeyCredential(azurite.account_name, azurite.account_key)
    store = AzureQueue.from_service_uri(azurite.queue_endpoint, unique("uri"), credential=credential)
    try:
        store.send({"n": 1})
        assert store.depth() == 1
    finally:
        store.close()
