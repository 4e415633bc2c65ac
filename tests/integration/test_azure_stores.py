"""The Azure adapters against local emulators: Azurite (Blob, Queue) and cosmosdb-server (Cosmos DB).

The same contract as the embedded stores (tests/store_contract.py), plus what is Azure-specific:
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
from tests.store_contract import BlobStoreContract, DocumentStoreContract, ScaleQueryContract, doc
from triage.adapters.azure.blobs import AzureBlobStore
from triage.adapters.azure.cosmos import CosmosDocumentStore
from triage.adapters.azure.queues import AzureQueue
from triage.domain.errors import ConcurrencyError, InputError
from triage.learning.registry import read_pointer, write_pointer


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


class TestAzureBlobStore(BlobStoreContract):
    pass


def test_local_path_is_none(blobs: AzureBlobStore) -> None:
    blobs.put("models/o/r/v1/manifest.json", b"{}")
    assert blobs.local_path("models/o/r/v1/manifest.json") is None


def test_names_with_spaces_and_unicode_round_trip(blobs: AzureBlobStore) -> None:
    name = "datasets/o/r/v 1/ünïcode + plus.jsonl"
    blobs.put(name, b"x")
    assert blobs.list("datasets/") == [name] and blobs.get(name) == b"x"


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


class TestCosmosDocumentStore(DocumentStoreContract, ScaleQueryContract):
    pass


def test_query_rejects_field_names_that_are_not_identifiers(docs: CosmosDocumentStore) -> None:
    with pytest.raises(InputError):
        docs.query("models", "o/r", **{"a] OR 1=1 --": "x"})


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
