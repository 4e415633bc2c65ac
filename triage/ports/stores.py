"""Storage ports, shaped after Azure Blob Storage and Cosmos DB so that the Azure adapters are thin.

A blob-like store holds named byte objects with ETags and conditional writes; a document store
holds JSON documents in named containers, partitioned by repository and addressed by ``id``.

Every document read names one repository (one partition). What grows with a repository (its issues,
decisions, feedback) is read in bounded pieces: :meth:`DocumentStore.page` (keyset pages, see
:func:`scan`), :meth:`DocumentStore.newest` (the latest documents by one of :data:`ORDERED_FIELDS`),
:meth:`DocumentStore.count` and :meth:`DocumentStore.query_in` (documents of a few issues). Both adapters
index :data:`INDEXED_FIELDS` and :data:`ORDERED_FIELDS` (SQLite expression indexes; Cosmos DB's indexing
policy, declared in ``infra/modules/cosmos.bicep``), so none of these reads a whole partition.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from triage.domain.errors import InputError

PAGE_SIZE = 500  # documents per page of a scan: a few hundred KB of issues at most
# Fields the stores keep indexes on for equality filters (``number``: an issue's decisions, locks and feedback).
INDEXED_FIELDS = ("number", "state", "kind", "events_due")
# Fields :meth:`DocumentStore.newest` orders by (each with ``id`` as the tie-break: Cosmos DB composite indexes).
ORDERED_FIELDS = ("decided_at", "started_at", "at", "recorded_at")
FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BlobStore(Protocol):
    """Named byte objects ("blobs") with ETags; names use ``/`` as a folder separator."""

    def put(self, name: str, data: bytes | IO[bytes], *, if_match: str | None = None,
            if_none_match: bool = False) -> str:
        """Write atomically and return the new ETag.

        ``data``: the bytes, or a binary file open for reading (read to its end in chunks, so that a blob
        larger than memory, such as a dataset split spooled to disk, is never held whole).
        ``if_match``: write only if the current ETag equals it; ``if_none_match``: only if
        the blob does not exist. A failed condition raises :class:`ConcurrencyError`.
        """
        ...

    def get(self, name: str) -> bytes:
        """Read a blob; raise :class:`NotFoundError` if absent."""
        ...

    def get_with_etag(self, name: str) -> tuple[bytes, str]:
        """A blob's content and the ETag of that content, read together; :class:`NotFoundError` if absent."""
        ...

    def etag(self, name: str) -> str | None:
        """The blob's current ETag, or None if it does not exist."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Names of all blobs under ``prefix``, sorted."""
        ...

    def delete(self, name: str) -> None:
        """Delete a blob if it exists."""
        ...

    def local_path(self, name: str) -> Path | None:
        """A filesystem path for the blob when the store is on local disk, else None."""
        ...


class DocumentStore(Protocol):
    """JSON documents in containers, partitioned by ``repo`` and addressed by ``id``."""

    def upsert(self, container: str, doc: Mapping[str, Any]) -> None:
        """Insert or replace ``doc``; it must carry string fields ``id`` and ``repo``."""
        ...

    def upsert_many(self, container: str, docs: list[Mapping[str, Any]]) -> None:
        """Upsert several documents (all-or-nothing where the backend allows)."""
        ...

    def create(self, container: str, doc: Mapping[str, Any]) -> bool:
        """Insert ``doc`` only if its container holds no document with its ``repo`` and ``id``: True if it was
        inserted, False if one existed (and is left as it was).

        Atomic: of any number of concurrent creates of one id (threads, processes, hosts), exactly one
        returns True. It is the claim that makes check-then-act safe (webhook de-duplication).
        """
        ...

    def get(self, container: str, repo: str, doc_id: str) -> dict[str, Any] | None:
        """One document, or None."""
        ...

    def query(self, container: str, repo: str, **equals: Any) -> list[dict[str, Any]]:
        """Documents of one repository whose top-level fields equal ``equals``, by id."""
        ...

    def delete(self, container: str, repo: str, doc_id: str) -> None:
        """Delete a document if it exists."""
        ...

    def page(self, container: str, repo: str, *, after: str | None = None, limit: int = PAGE_SIZE,
             **equals: Any) -> tuple[list[dict[str, Any]], str | None]:
        """One page of :meth:`query`: at most ``limit`` documents after the continuation ``after`` (None: the
        first page), and the continuation of the next page (None after the last).

        Keyset paging in an order of the store's choosing (by stored id): a document written or deleted
        meanwhile does not make a later page skip or repeat another. See :func:`scan`.
        """
        ...

    def count(self, container: str, repo: str, **equals: Any) -> int:
        """How many documents :meth:`query` would return, counted by the store."""
        ...

    def newest(self, container: str, repo: str, field: str, *, limit: int, after: str | None = None,
               **equals: Any) -> tuple[list[dict[str, Any]], str | None]:
        """Documents whose ``field`` (one of :data:`ORDERED_FIELDS`) is set, the highest value first (then the
        highest id), at most ``limit`` after the continuation ``after``; and the next page's continuation."""
        ...

    def query_in(self, container: str, repo: str, field: str, values: Sequence[Any],
                 **equals: Any) -> list[dict[str, Any]]:
        """Documents whose ``field`` equals one of ``values`` (and the fields ``equals``), by id."""
        ...


def scan(docs: DocumentStore, container: str, repo: str, *, page_size: int = PAGE_SIZE,
         **equals: Any) -> Iterator[dict[str, Any]]:
    """Every document :meth:`DocumentStore.query` would return, read a page at a time: memory stays flat
    however large the partition."""
    after: str | None = None
    while True:
        found, after = docs.page(container, repo, after=after, limit=page_size, **equals)
        yield from found
        if after is None:
            return


def check_field(field: str, allowed: Sequence[str] | None = None) -> str:
    """``field`` if it is a top-level field name (and one of ``allowed``); else :class:`InputError`."""
    if not FIELD.match(field) or (allowed is not None and field not in allowed):
        need = f"one of {', '.join(allowed)}" if allowed is not None else "a top-level field name like 'number'"
        raise InputError(f"cannot filter or order on field {field!r}: use {need}")
    return field


def check_blob_name(name: str) -> str:
    """``name`` if it is a relative blob name without empty, ``.`` or ``..`` parts; else :class:`InputError`."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InputError(f"invalid blob name {name!r}: use relative names like models/owner/repo/v1/manifest.json")
    return name
