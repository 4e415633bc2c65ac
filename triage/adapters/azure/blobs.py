"""The blob store port on Azure Blob Storage (one container)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobServiceClient, ContainerClient

from triage.adapters.azure.credentials import StorageCredential, default_credential
from triage.domain.errors import ConcurrencyError, NotFoundError
from triage.ports.stores import check_blob_name


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
        service = BlobServiceClient(account_url=uri, credential=credential or default_credential())
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
        blob = self._container.get_blob_client(check_blob_name(name))
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
            download = self._container.get_blob_client(check_blob_name(name)).download_blob()
            return download.readall(), str(download.properties.etag)
        except ResourceNotFoundError:
            raise NotFoundError(f"blob {name} not found in container {self._container.container_name}") from None

    def etag(self, name: str) -> str | None:
        """The blob's current ETag, or None if it does not exist."""
        try:
            return str(self._container.get_blob_client(check_blob_name(name)).get_blob_properties().etag)
        except ResourceNotFoundError:
            return None

    def list(self, prefix: str = "") -> list[str]:
        """Names of all blobs under ``prefix``, sorted."""
        return sorted(self._container.list_blob_names(name_starts_with=prefix or None))

    def delete(self, name: str) -> None:
        """Delete a blob (and its snapshots) if it exists."""
        try:
            self._container.delete_blob(check_blob_name(name), delete_snapshots="include")
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
