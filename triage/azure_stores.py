"""Azure adapters of the storage ports: Blob Storage, Cosmos DB (SQL API) and Queue Storage.

This is the only module that imports the Storage and Cosmos SDKs, and only
:mod:`triage.bootstrap` imports it (lazily), so the embedded setup never loads them. Each adapter takes a ready SDK client (tests pass
one bound to an emulator) and offers factories for the two ways the app connects: a
connection string (Azurite, or a key-based account) or a service URI with a token credential
(``DefaultAzureCredential``, i.e. the Function app's managed identity, when none is given).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from azure.core import MatchConditions
from azure.core.credentials import (
    AzureNamedKeyCredential,
    AzureSasCredential,
    TokenCredential,
)
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy, PartitionKey
from azure.cosmos.exceptions import CosmosHttpResponseError, CosmosResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient, QueueServiceClient

from .errors import ConcurrencyError, InputError, NotFoundError
from .stores import _check_name

# What the storage factories accept besides None (which means DefaultAzureCredential).
StorageCredential = TokenCredential | AzureNamedKeyCredential | AzureSasCredential | str
# What the Cosmos factory accepts besides None: a token credential or an account key.
CosmosCredential = TokenCredential | str


def _default_credential() -> TokenCredential:
    """``DefaultAzureCredential``: managed identity in Azure, the developer's login locally."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


# --- Blob Storage ------------------------------------------------------------------------


class AzureBlobStore:
    """A :class:`~triage.stores.BlobStore` on one Azure Blob Storage container.

    ETags are the service's own (quoted strings such as ``"0x8DC…"``); conditional writes map to
    ``If-Match`` / ``If-None-Match: *`` so the compare-and-swap happens on the server.
    """

    def __init__(self, container_client: ContainerClient) -> None:
        self._container = container_client

    @classmethod
    def from_connection_string(cls, conn: str, container: str) -> AzureBlobStore:
        """Connect with a storage connection string (e.g. Azurite's); create ``container`` if missing."""
        return cls._created(ContainerClient.from_connection_string(conn, container))

    @classmethod
    def from_service_uri(cls, uri: str, container: str,
                         credential: StorageCredential | None = None) -> AzureBlobStore:
        """Connect to ``https://<account>.blob.core.windows.net`` (``DefaultAzureCredential`` when
        ``credential`` is None); create ``container`` if missing."""
        service = BlobServiceClient(account_url=uri, credential=credential or _default_credential())
        return cls._created(service.get_container_client(container))

    @classmethod
    def _created(cls, client: ContainerClient) -> AzureBlobStore:
        try:
            client.create_container()
        except ResourceExistsError:
            pass
        return cls(client)

    def put(self, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        """Upload ``data`` as one block blob and return the new ETag; a failed condition raises
        :class:`ConcurrencyError` and leaves the blob as it was."""
        blob = self._container.get_blob_client(_check_name(name))
        if if_match is not None and if_none_match:
            # "must not exist" and "must have this ETag" never both hold (LocalBlobStore agrees).
            raise ConcurrencyError(f"blob {name}: if_match and if_none_match cannot both hold")
        conditions: dict[str, Any] = {"overwrite": not if_none_match}  # overwrite=False sends If-None-Match: *
        if if_match is not None:
            conditions.update(etag=if_match, match_condition=MatchConditions.IfNotModified)
        try:
            return str(blob.upload_blob(data, **conditions)["etag"])
        except HttpResponseError as exc:
            if _lost_race(exc, if_match is not None, if_none_match):
                raise ConcurrencyError(f"blob {name} changed since it was read, or already exists"
                                       f" (HTTP {exc.status_code})") from None
            raise

    def get(self, name: str) -> bytes:
        """Read a blob; raise :class:`NotFoundError` if absent."""
        return self.get_with_etag(name)[0]

    def get_with_etag(self, name: str) -> tuple[bytes, str]:
        """A blob's content and the ETag of that very content (one download)."""
        try:
            download = self._container.get_blob_client(_check_name(name)).download_blob()
            return download.readall(), str(download.properties.etag)
        except ResourceNotFoundError:
            raise NotFoundError(f"blob {name} not found in container {self._container.container_name}") from None

    def etag(self, name: str) -> str | None:
        """The blob's current ETag, or None if it does not exist."""
        try:
            return str(self._container.get_blob_client(_check_name(name)).get_blob_properties().etag)
        except ResourceNotFoundError:
            return None

    def list(self, prefix: str = "") -> list[str]:
        """Names of all blobs under ``prefix``, sorted."""
        return sorted(self._container.list_blob_names(name_starts_with=prefix or None))

    def delete(self, name: str) -> None:
        """Delete a blob (and its snapshots) if it exists."""
        try:
            self._container.delete_blob(_check_name(name), delete_snapshots="include")
        except ResourceNotFoundError:
            pass

    def local_path(self, name: str) -> Path | None:
        """Always None: blobs are not on local disk."""
        return None

    def close(self) -> None:
        """Close the underlying HTTP pipeline."""
        self._container.close()


def _lost_race(exc: HttpResponseError, if_match: bool, if_none_match: bool) -> bool:
    """Whether a failed conditional upload means "the blob changed / exists" rather than a fault.

    412 ConditionNotMet answers a stale If-Match; 409 BlobAlreadyExists answers If-None-Match: *;
    If-Match on a blob that is gone may be answered 404 or 412.
    """
    status = exc.status_code
    return (status == 412 and (if_match or if_none_match)) or (status == 409 and if_none_match) or (
        status == 404 and if_match and getattr(exc, "error_code", None) == "BlobNotFound")


# --- Cosmos DB ---------------------------------------------------------------------------

PARTITION_KEY = "/repo"
SYSTEM_FIELDS = ("_rid", "_self", "_etag", "_attachments", "_ts")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Characters Cosmos DB does not allow in an item id (they break the item's URL).
_ID_UNSAFE = "%/\\?#"


def _encode_id(doc_id: str) -> str:
    """The Cosmos id of a document id: ``%``, ``/``, ``\\``, ``?`` and ``#`` percent-encoded.

    GitHub label names such as ``area/net`` become ids in the labels and locks containers;
    Cosmos rejects or mangles ids with those characters. Ids without them are stored as they are.
    """
    return "".join(quote(ch, safe="") if ch in _ID_UNSAFE else ch for ch in doc_id)


def _from_cosmos(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item as the core wrote it: system fields stripped, the id decoded."""
    doc = {k: v for k, v in item.items() if k not in SYSTEM_FIELDS}
    doc["id"] = unquote(doc["id"])
    return doc


def _validated(container: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` ready for Cosmos (id encoded); :class:`InputError` without string ``id`` and ``repo``."""
    if not isinstance(doc.get("id"), str) or not isinstance(doc.get("repo"), str):
        raise InputError(f"document for container {container!r} needs string 'id' and 'repo' fields")
    return {**doc, "id": _encode_id(doc["id"])}


class CosmosDocumentStore:
    """A :class:`~triage.stores.DocumentStore` on one Cosmos DB (SQL API) database.

    Each logical container is a Cosmos container of the same name with partition key ``/repo``,
    created on first use. Point reads, queries and deletes all name the partition, so nothing
    here is a cross-partition operation.
    """

    def __init__(self, database_client: DatabaseProxy, *, client: CosmosClient | None = None) -> None:
        """``client``: the :class:`CosmosClient` behind ``database_client``, closed by :meth:`close`."""
        self._database = database_client
        self._client = client
        self._containers: dict[str, ContainerProxy] = {}

    @classmethod
    def from_connection_string(cls, conn: str, database: str, *,
                               enable_endpoint_discovery: bool = True) -> CosmosDocumentStore:
        """Connect with ``AccountEndpoint=…;AccountKey=…;``; create ``database`` if missing.

        ``enable_endpoint_discovery`` is the SDK's multi-region routing and failover; keep it on
        in Azure, and turn it off for single-endpoint emulators.
        """
        client = CosmosClient.from_connection_string(conn, enable_endpoint_discovery=enable_endpoint_discovery)
        return cls._created(client, database)

    @classmethod
    def from_endpoint(cls, endpoint: str, database: str, credential: CosmosCredential | None = None, *,
                      enable_endpoint_discovery: bool = True) -> CosmosDocumentStore:
        """Connect to ``https://<account>.documents.azure.com:443/`` (``DefaultAzureCredential``
        when ``credential`` is None, else a token credential or an account key)."""
        client = CosmosClient(endpoint, credential=credential or _default_credential(),
                              enable_endpoint_discovery=enable_endpoint_discovery)
        return cls._created(client, database)

    @classmethod
    def _created(cls, client: CosmosClient, database: str) -> CosmosDocumentStore:
        """Create ``database`` if missing.

        With Entra ID (managed identity) the data plane may not create databases or containers
        (403); then they must be provisioned by the deployment, and we use them as they are.
        """
        try:
            return cls(client.create_database_if_not_exists(id=database), client=client)
        except CosmosHttpResponseError as exc:
            if exc.status_code != 403:
                raise
            return cls(client.get_database_client(database), client=client)

    def _container(self, name: str) -> ContainerProxy:
        """The Cosmos container behind logical container ``name``, created on first use."""
        proxy = self._containers.get(name)
        if proxy is None:
            try:
                proxy = self._database.create_container_if_not_exists(
                    id=name, partition_key=PartitionKey(path=PARTITION_KEY))
            except CosmosHttpResponseError as exc:
                if exc.status_code != 403:  # Entra ID without control-plane rights: see _created
                    raise
                proxy = self._database.get_container_client(name)
            self._containers[name] = proxy
        return proxy

    def upsert(self, container: str, doc: Mapping[str, Any]) -> None:
        """Insert or replace ``doc``; it must carry string fields ``id`` and ``repo``."""
        body = _validated(container, doc)
        self._container(container).upsert_item(body)

    def upsert_many(self, container: str, docs: list[Mapping[str, Any]]) -> None:
        """Validate every document, then upsert them one by one.

        Not atomic: Cosmos DB has no transactions across partitions (transactional batches
        stay within one partition key), so a failure part-way leaves the earlier documents
        written. Validation comes first, so a malformed document writes nothing.
        """
        bodies = [_validated(container, doc) for doc in docs]
        if not bodies:
            return
        proxy = self._container(container)
        for body in bodies:
            proxy.upsert_item(body)

    def get(self, container: str, repo: str, doc_id: str) -> dict[str, Any] | None:
        """One document, or None.

        A point read; a missing item is a 404. Should the server answer 500 instead (the
        ``@vercel/cosmosdb-server`` emulator does for a missing item), the same read is
        retried as a query in the partition, which answers "missing" correctly everywhere.
        """
        proxy = self._container(container)
        try:
            return _from_cosmos(proxy.read_item(_encode_id(doc_id), partition_key=repo))
        except CosmosResourceNotFoundError:
            return None
        except CosmosHttpResponseError as exc:
            if exc.status_code != 500:
                raise
        found = self._select(proxy, repo, {"id": doc_id})
        return found[0] if found else None

    def query(self, container: str, repo: str, **equals: Any) -> list[dict[str, Any]]:
        """Documents of one repository whose top-level fields equal ``equals``, sorted by id.

        ``field=None`` matches documents where the field is null or absent, as in the
        embedded store. Field names must be identifiers (they are not parameters in Cosmos SQL).
        """
        return self._select(self._container(container), repo, equals)

    def _select(self, proxy: ContainerProxy, repo: str, equals: Mapping[str, Any]) -> list[dict[str, Any]]:
        sql, parameters = _query(repo, equals)
        items = proxy.query_items(sql, parameters=parameters, partition_key=repo)
        return sorted((_from_cosmos(item) for item in items), key=lambda d: d["id"])

    def delete(self, container: str, repo: str, doc_id: str) -> None:
        """Delete a document if it exists."""
        try:
            self._container(container).delete_item(_encode_id(doc_id), partition_key=repo)
        except CosmosResourceNotFoundError:
            pass

    def close(self) -> None:
        """Close the client the factory opened (nothing when built from a database client)."""
        if self._client is not None:
            self._client.close()


def _query(repo: str, equals: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A parameterised query for one partition (always ``WHERE c.repo = @repo``) and equality filters."""
    clauses = ["c.repo = @repo"]
    parameters: list[dict[str, Any]] = [{"name": "@repo", "value": repo}]
    for index, (field, value) in enumerate(sorted(equals.items())):
        if not _FIELD.match(field):
            raise InputError(f"cannot filter on field {field!r}: use a top-level field name like 'number'")
        ref = f'c["{field}"]'  # bracket notation: field names such as "value" are SQL keywords
        if value is None:
            clauses.append(f"(NOT IS_DEFINED({ref}) OR IS_NULL({ref}))")
            continue
        clauses.append(f"{ref} = @p{index}")
        parameters.append({"name": f"@p{index}", "value": _encode_id(value) if field == "id" else value})
    return "SELECT * FROM c WHERE " + " AND ".join(clauses), parameters


# --- Queue Storage -----------------------------------------------------------------------


class AzureQueue:
    """A :class:`~triage.queues.MessageQueue` on Azure Queue Storage.

    Messages are JSON, base64-encoded, which is what the Functions host's queue trigger
    expects by default (``messageEncoding: base64``). Queues are created on first send.
    """

    def __init__(self, queue_service_client: QueueServiceClient, name: str) -> None:
        self._service = queue_service_client
        self.name = name
        self._queues: dict[str, QueueClient] = {}

    @classmethod
    def from_connection_string(cls, conn: str, name: str) -> AzureQueue:
        """Connect with a storage connection string (e.g. Azurite's)."""
        return cls(QueueServiceClient.from_connection_string(conn), name)

    @classmethod
    def from_service_uri(cls, uri: str, name: str, credential: StorageCredential | None = None) -> AzureQueue:
        """Connect to ``https://<account>.queue.core.windows.net`` (``DefaultAzureCredential``
        when ``credential`` is None)."""
        return cls(QueueServiceClient(account_url=uri, credential=credential or _default_credential()), name)

    def _queue(self, queue: str | None) -> QueueClient:
        name = queue or self.name
        if name not in self._queues:
            self._queues[name] = self._service.get_queue_client(name)
        return self._queues[name]

    def send(self, message: Mapping[str, Any], queue: str | None = None) -> None:
        """Enqueue ``message`` on this queue (or on ``queue``), creating the queue if missing."""
        client = self._queue(queue)
        text = encode_message(message)
        try:
            client.send_message(text)
        except ResourceNotFoundError:
            try:
                client.create_queue()
            except ResourceExistsError:
                pass
            client.send_message(text)

    def depth(self, queue: str | None = None) -> int:
        """Approximate number of messages on this queue (or on ``queue``); 0 if it does not exist."""
        try:
            count = self._queue(queue).get_queue_properties().approximate_message_count
        except ResourceNotFoundError:
            return 0
        return int(count or 0)

    def close(self) -> None:
        """Close the underlying HTTP pipelines."""
        for client in self._queues.values():
            client.close()
        self._service.close()


def encode_message(message: Mapping[str, Any]) -> str:
    """A message body as the Functions queue trigger reads it: base64 of UTF-8 JSON."""
    return base64.b64encode(json.dumps(dict(message), sort_keys=True).encode()).decode("ascii")
