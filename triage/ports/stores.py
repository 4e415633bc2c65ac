"""Storage ports, shaped after Azure Blob Storage and Cosmos DB so that the Azure adapters are thin.

A blob-like store holds named byte objects with ETags and conditional writes; a document store
holds JSON documents in named containers, partitioned by repository and addressed by ``id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from triage.domain.errors import InputError


class BlobStore(Protocol):
    """Named byte objects ("blobs") with ETags; names use ``/`` as a folder separator."""

    def put(self, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        """Write atomically and return the new ETag.

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


def check_blob_name(name: str) -> str:
    """``name`` if it is a relative blob name without empty, ``.`` or ``..`` parts; else :class:`InputError`."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InputError(f"invalid blob name {name!r}: use relative names like models/owner/repo/v1/manifest.json")
    return name
