"""The document store port on Azure Cosmos DB (SQL API): one container per record kind, partitioned by ``/repo``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy, PartitionKey
from azure.cosmos.exceptions import CosmosHttpResponseError, CosmosResourceExistsError, CosmosResourceNotFoundError

from triage.adapters.azure.credentials import CosmosCredential, default_credential
from triage.domain.errors import InputError
from triage.ports.stores import ORDERED_FIELDS, PAGE_SIZE, check_field

PARTITION_KEY = "/repo"
SYSTEM_FIELDS = ("_rid", "_self", "_etag", "_attachments", "_ts")
IN_CHUNK = 100  # values per ``IN (...)`` of query_in
# Every container's indexing policy, as infra/modules/cosmos.bicep declares it (a test keeps the two equal):
# range indexes on every path but the large texts nobody filters on (cheaper writes), and one composite index
# (field, id) per ordered field, which "latest N" queries (ORDER BY field DESC, id DESC) need.
EXCLUDED_PATHS = ("/body/?", "/title/?", "/label_events/*", "/assign_events/*", "/paths/*", "/message/*", "/top/*",
                  "/reasons/*", "/similar/*", "/\"_etag\"/?")
INDEXING_POLICY: dict[str, Any] = {
    "indexingMode": "consistent",
    "automatic": True,
    "includedPaths": [{"path": "/*"}],
    "excludedPaths": [{"path": path} for path in EXCLUDED_PATHS],
    "compositeIndexes": [[{"path": f"/{field}", "order": "descending"}, {"path": "/id", "order": "descending"}]
                         for field in ORDERED_FIELDS],
}
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
        client = CosmosClient(endpoint, credential=credential or default_credential(),
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
                    id=name, partition_key=PartitionKey(path=PARTITION_KEY), indexing_policy=INDEXING_POLICY)
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

    def create(self, container: str, doc: Mapping[str, Any]) -> bool:
        """Insert ``doc`` unless an item with its id exists in its partition: True if inserted.

        ``create_item`` is one request that the server refuses with 409 Conflict when the id is taken,
        so of concurrent creates exactly one succeeds, whichever host sent them.
        """
        body = _validated(container, doc)
        try:
            self._container(container).create_item(body)
        except CosmosResourceExistsError:
            return False
        return True

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

    def _items(self, container: str, repo: str, sql: str, parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(self._container(container).query_items(sql, parameters=parameters, partition_key=repo))

    def page(self, container: str, repo: str, *, after: str | None = None, limit: int = PAGE_SIZE,
             **equals: Any) -> tuple[list[dict[str, Any]], str | None]:
        """Keyset paging on the stored id (``TOP`` n ``ORDER BY c.id``, the id's index): the continuation is the
        last stored id read."""
        where, parameters = _query(repo, equals)
        if after is not None:
            where += " AND c.id > @after"
            parameters.append({"name": "@after", "value": after})
        parameters.append({"name": "@limit", "value": int(limit)})
        items = self._items(container, repo, where.replace("SELECT *", "SELECT TOP @limit *", 1) + " ORDER BY c.id",
                            parameters)
        return [_from_cosmos(item) for item in items], (items[-1]["id"] if len(items) == limit else None)

    def count(self, container: str, repo: str, **equals: Any) -> int:
        """``SELECT VALUE COUNT(1)`` in the partition."""
        where, parameters = _query(repo, equals)
        found = self._items(container, repo, where.replace("SELECT *", "SELECT VALUE COUNT(1)", 1), parameters)
        return int(found[0]) if found else 0

    def newest(self, container: str, repo: str, field: str, *, limit: int, after: str | None = None,
               **equals: Any) -> tuple[list[dict[str, Any]], str | None]:
        """``TOP`` n ``ORDER BY c.field DESC, c.id DESC`` on the composite index of :data:`INDEXING_POLICY`; the
        continuation is the last (value, stored id) read."""
        ref = f'c["{check_field(field, ORDERED_FIELDS)}"]'
        where, parameters = _query(repo, equals)
        where += f" AND IS_DEFINED({ref}) AND NOT IS_NULL({ref})"
        if after is not None:
            value, last_id = json.loads(after)
            where += f" AND ({ref} < @value OR ({ref} = @value AND c.id < @last))"
            parameters += [{"name": "@value", "value": value}, {"name": "@last", "value": last_id}]
        parameters.append({"name": "@limit", "value": int(limit)})
        sql = where.replace("SELECT *", "SELECT TOP @limit *", 1) + f" ORDER BY {ref} DESC, c.id DESC"
        items = self._items(container, repo, sql, parameters)
        token = json.dumps([items[-1].get(field), items[-1]["id"]]) if len(items) == limit else None
        return [_from_cosmos(item) for item in items], token

    def query_in(self, container: str, repo: str, field: str, values: Sequence[Any],
                 **equals: Any) -> list[dict[str, Any]]:
        """``c.field IN (...)`` in the partition, :data:`IN_CHUNK` values per query."""
        ref = f'c["{check_field(field)}"]'
        wanted, found = list(dict.fromkeys(values)), []
        for start in range(0, len(wanted), IN_CHUNK):
            where, parameters = _query(repo, equals)
            chunk = wanted[start:start + IN_CHUNK]
            names = [f"@v{i}" for i in range(len(chunk))]
            parameters += [{"name": n, "value": _encode_id(v) if field == "id" else v} for n, v in zip(names, chunk)]
            found += self._items(container, repo, where + f" AND {ref} IN ({', '.join(names)})", parameters)
        return sorted((_from_cosmos(item) for item in found), key=lambda d: d["id"])

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
        check_field(field)
        ref = f'c["{field}"]'  # bracket notation: field names such as "value" are SQL keywords
        if value is None:
            clauses.append(f"(NOT IS_DEFINED({ref}) OR IS_NULL({ref}))")
            continue
        clauses.append(f"{ref} = @p{index}")
        parameters.append({"name": f"@p{index}", "value": _encode_id(value) if field == "id" else value})
    return "SELECT * FROM c WHERE " + " AND ".join(clauses), parameters
