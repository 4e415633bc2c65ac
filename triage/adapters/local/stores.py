"""The embedded storage adapters: blobs as files under a folder, documents in one SQLite database."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from triage.domain.errors import ConcurrencyError, InputError, NotFoundError
from triage.ports.stores import check_blob_name


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

    def put(self, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            current = self.etag(name)
            if if_none_match and current is not None:
                raise ConcurrencyError(f"blob {name} already exists")
            if if_match is not None and current != if_match:
                raise ConcurrencyError(f"blob {name} changed since it was read (ETag {if_match} is stale)")
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return _etag_of(data)

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFoundError(f"blob {name} not found in {self.root}") from None

    def get_with_etag(self, name: str) -> tuple[bytes, str]:
        data = self.get(name)
        return data, _etag_of(data)

    def etag(self, name: str) -> str | None:
        try:
            return _etag_of(self._path(name).read_bytes())
        except (FileNotFoundError, IsADirectoryError):
            return None

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


class SqliteDocumentStore:
    """A :class:`DocumentStore` in one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS documents (container TEXT NOT NULL, repo TEXT NOT NULL, id TEXT NOT NULL,"
            " body TEXT NOT NULL, PRIMARY KEY (container, repo, id))"
        )
        self._mutex = threading.Lock()

    def upsert(self, container: str, doc: Mapping[str, Any]) -> None:
        if not isinstance(doc.get("id"), str) or not isinstance(doc.get("repo"), str):
            raise InputError(f"document for container {container!r} needs string 'id' and 'repo' fields")
        body = json.dumps(dict(doc), sort_keys=True)
        with self._mutex:
            self._conn.execute(
                "INSERT INTO documents (container, repo, id, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (container, repo, id) DO UPDATE SET body = excluded.body",
                (container, doc["repo"], doc["id"], body),
            )

    def upsert_many(self, container: str, docs: list[Mapping[str, Any]]) -> None:
        """Upsert several documents in one transaction."""
        for doc in docs:
            if not isinstance(doc.get("id"), str) or not isinstance(doc.get("repo"), str):
                raise InputError(f"document for container {container!r} needs string 'id' and 'repo' fields")
        with self._mutex:
            self._conn.execute("BEGIN")
            try:
                for doc in docs:
                    self._conn.execute(
                        "INSERT INTO documents (container, repo, id, body) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (container, repo, id) DO UPDATE SET body = excluded.body",
                        (container, doc["repo"], doc["id"], json.dumps(dict(doc), sort_keys=True)),
                    )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def create(self, container: str, doc: Mapping[str, Any]) -> bool:
        """Insert ``doc`` unless the id exists: True if inserted. The primary key decides, so the claim is atomic
        across the threads sharing this connection and across processes sharing the file."""
        if not isinstance(doc.get("id"), str) or not isinstance(doc.get("repo"), str):
            raise InputError(f"document for container {container!r} needs string 'id' and 'repo' fields")
        body = json.dumps(dict(doc), sort_keys=True)
        with self._mutex:
            cursor = self._conn.execute(
                "INSERT INTO documents (container, repo, id, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (container, repo, id) DO NOTHING",
                (container, doc["repo"], doc["id"], body),
            )
            return cursor.rowcount == 1

    def get(self, container: str, repo: str, doc_id: str) -> dict[str, Any] | None:
        with self._mutex:
            row = self._conn.execute(
                "SELECT body FROM documents WHERE container = ? AND repo = ? AND id = ?", (container, repo, doc_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def query(self, container: str, repo: str, **equals: Any) -> list[dict[str, Any]]:
        with self._mutex:
            rows = self._conn.execute(
                "SELECT body FROM documents WHERE container = ? AND repo = ? ORDER BY id", (container, repo)
            ).fetchall()
        docs = [json.loads(body) for (body,) in rows]
        return [d for d in docs if all(d.get(k) == v for k, v in equals.items())]

    def delete(self, container: str, repo: str, doc_id: str) -> None:
        with self._mutex:
            self._conn.execute("DELETE FROM documents WHERE container = ? AND repo = ? AND id = ?", (container, repo, doc_id))

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()
