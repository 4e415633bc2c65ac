"""The embedded document store: JSON documents in one SQLite table, with expression indexes on the fields the
app filters and orders by (the SQLite counterpart of Cosmos DB's indexing policy)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from triage.domain.errors import InputError
from triage.ports.stores import INDEXED_FIELDS, ORDERED_FIELDS, PAGE_SIZE, check_field

IN_CHUNK = 500  # values per ``IN (...)`` of query_in (SQLite allows 32,766 parameters)
_SQL_SCALARS = (str, int, float, bool, type(None))
_UPSERT = ("INSERT INTO documents (container, repo, id, body) VALUES (?, ?, ?, ?)"
           " ON CONFLICT (container, repo, id) DO UPDATE SET body = excluded.body")


def _expr(field: str) -> str:
    """The SQL expression of a top-level field; the indexes are built on exactly this text."""
    return f"json_extract(body, '$.{check_field(field)}')"


def _checked(container: str, doc: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """The row of ``doc``; :class:`InputError` without string ``id`` and ``repo``."""
    if not isinstance(doc.get("id"), str) or not isinstance(doc.get("repo"), str):
        raise InputError(f"document for container {container!r} needs string 'id' and 'repo' fields")
    return container, doc["repo"], doc["id"], json.dumps(dict(doc), sort_keys=True)


def _where(container: str, repo: str, equals: Mapping[str, Any]) -> tuple[str, list[Any], dict[str, Any]]:
    """The SQL condition for one partition and the equality filters it can express, its parameters, and the
    filters left for Python (lists, objects, integers beyond 64 bits).

    A JSON ``true`` reads as 1 and ``null`` or an absent field as NULL, so these match as Python's ``==`` does.
    """
    clauses, params, rest = ["container = ?", "repo = ?"], [container, repo], {}
    for field, value in sorted(equals.items()):
        check_field(field)
        if value is None:
            clauses.append(f"{_expr(field)} IS NULL")
        elif isinstance(value, _SQL_SCALARS) and not (isinstance(value, int) and abs(value) >= 2**63):
            clauses.append(f"{_expr(field)} = ?")
            params.append(value)
        else:
            rest[field] = value
    return " AND ".join(clauses), params, rest


def _matches(doc: Mapping[str, Any], rest: Mapping[str, Any]) -> bool:
    return all(doc.get(k) == v for k, v in rest.items())


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
        for field in (*INDEXED_FIELDS, *ORDERED_FIELDS):  # one partition, one field's values, then the id
            self._conn.execute(f"CREATE INDEX IF NOT EXISTS ix_{field} ON documents (container, repo, {_expr(field)}, id)")
        self._mutex = threading.Lock()

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._mutex:
            return self._conn.execute(sql, params).fetchall()

    def upsert(self, container: str, doc: Mapping[str, Any]) -> None:
        row = _checked(container, doc)
        with self._mutex:
            self._conn.execute(_UPSERT, row)

    def upsert_many(self, container: str, docs: list[Mapping[str, Any]]) -> None:
        """Upsert several documents in one transaction."""
        rows = [_checked(container, doc) for doc in docs]
        with self._mutex:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(_UPSERT, rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def create(self, container: str, doc: Mapping[str, Any]) -> bool:
        """Insert ``doc`` unless the id exists: True if inserted. The primary key decides, so the claim is atomic
        across the threads sharing this connection and across processes sharing the file."""
        row = _checked(container, doc)
        with self._mutex:
            cursor = self._conn.execute(
                "INSERT INTO documents (container, repo, id, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (container, repo, id) DO NOTHING", row)
            return cursor.rowcount == 1

    def get(self, container: str, repo: str, doc_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT body FROM documents WHERE container = ? AND repo = ? AND id = ?",
                          (container, repo, doc_id))
        return json.loads(rows[0][0]) if rows else None

    def query(self, container: str, repo: str, **equals: Any) -> list[dict[str, Any]]:
        where, params, rest = _where(container, repo, equals)
        docs = (json.loads(body) for (body,) in self._rows(f"SELECT body FROM documents WHERE {where} ORDER BY id",
                                                            params))
        return [d for d in docs if _matches(d, rest)]

    def page(self, container: str, repo: str, *, after: str | None = None, limit: int = PAGE_SIZE,
             **equals: Any) -> tuple[list[dict[str, Any]], str | None]:
        """Keyset paging on the primary key (the continuation is the last id read)."""
        where, params, rest = _where(container, repo, equals)
        if after is not None:
            where, params = where + " AND id > ?", [*params, after]
        rows = self._rows(f"SELECT id, body FROM documents WHERE {where} ORDER BY id LIMIT ?", [*params, limit])
        docs = [d for d in (json.loads(body) for _, body in rows) if _matches(d, rest)]
        return docs, (rows[-1][0] if len(rows) == limit else None)

    def count(self, container: str, repo: str, **equals: Any) -> int:
        where, params, rest = _where(container, repo, equals)
        if rest:
            return len(self.query(container, repo, **equals))
        return int(self._rows(f"SELECT COUNT(*) FROM documents WHERE {where}", params)[0][0])

    def newest(self, container: str, repo: str, field: str, *, limit: int, after: str | None = None,
               **equals: Any) -> tuple[list[dict[str, Any]], str | None]:
        """Walks the field's index backwards; the continuation is the last (value, id) read."""
        expr = _expr(check_field(field, ORDERED_FIELDS))
        where, params, rest = _where(container, repo, equals)
        where += f" AND {expr} IS NOT NULL"
        if after is not None:
            value, last_id = json.loads(after)
            where += f" AND ({expr} < ? OR ({expr} = ? AND id < ?))"
            params += [value, value, last_id]
        rows = self._rows(f"SELECT {expr}, id, body FROM documents WHERE {where} ORDER BY {expr} DESC, id DESC LIMIT ?",
                          [*params, limit])
        docs = [d for d in (json.loads(body) for _, _, body in rows) if _matches(d, rest)]
        return docs, (json.dumps([rows[-1][0], rows[-1][1]]) if len(rows) == limit else None)

    def query_in(self, container: str, repo: str, field: str, values: Sequence[Any],
                 **equals: Any) -> list[dict[str, Any]]:
        where, params, rest = _where(container, repo, equals)
        wanted = list(dict.fromkeys(values))
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start:start + IN_CHUNK]
            sql = f"SELECT body FROM documents WHERE {where} AND {_expr(field)} IN ({', '.join('?' * len(chunk))})"
            found += [d for d in (json.loads(body) for (body,) in self._rows(sql, [*params, *chunk]))
                      if _matches(d, rest) and d.get(field) in chunk]
        return sorted(found, key=lambda d: d["id"])

    def delete(self, container: str, repo: str, doc_id: str) -> None:
        with self._mutex:
            self._conn.execute("DELETE FROM documents WHERE container = ? AND repo = ? AND id = ?", (container, repo, doc_id))

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()
