"""The embedded storage adapters: blobs as files under a folder, documents in one SQLite database
(:mod:`triage.adapters.local.documents`)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from triage.adapters.local.documents import SqliteDocumentStore
from triage.domain.errors import ConcurrencyError, NotFoundError
from triage.ports.stores import check_blob_name

__all__ = ["LocalBlobStore", "SqliteDocumentStore"]
CHUNK = 1 << 20  # bytes copied at a time when a blob is written from a file


class LocalBlobStore:
    """A :class:`BlobStore` on the local filesystem; writes go to a temp file and are renamed into place."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.root / ".lock"

    def _path(self, name: str) -> Path:
        return self.root / check_blob_name(name)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def put(self, name: str, data: bytes | IO[bytes], *, if_match: str | None = None,
            if_none_match: bool = False) -> str:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            current = self.etag(name)
            if if_none_match and current is not None:
                raise ConcurrencyError(f"blob {name} already exists")
            if if_match is not None and current != if_match:
                raise ConcurrencyError(f"blob {name} changed since it was read (ETag {if_match} is stale)")
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            digest = hashlib.sha256()
            try:
                with os.fdopen(fd, "wb") as handle:
                    for chunk in _chunks(data):
                        digest.update(chunk)
                        handle.write(chunk)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return '"' + digest.hexdigest()[:32] + '"'

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFoundError(f"blob {name} not found in {self.root}") from None

    def get_with_etag(self, name: str) -> tuple[bytes, str]:
        data = self.get(name)
        return data, _etag_of(data)

    def etag(self, name: str) -> str | None:
        digest = hashlib.sha256()
        try:
            with open(self._path(name), "rb") as handle:
                for chunk in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(chunk)
        except (FileNotFoundError, IsADirectoryError):
            return None
        return '"' + digest.hexdigest()[:32] + '"'

    def list(self, prefix: str = "") -> list[str]:
        names = []
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                rel = path.relative_to(self.root).as_posix()
                if rel.startswith(prefix):
                    names.append(rel)
        return sorted(names)

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def local_path(self, name: str) -> Path | None:
        return self._path(name)


def _etag_of(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _chunks(data: bytes | IO[bytes]) -> Iterator[bytes]:
    """The content to write, a chunk at a time (bytes are one chunk)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        yield bytes(data)
        return
    yield from iter(lambda: data.read(CHUNK), b"")


