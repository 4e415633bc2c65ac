"""The embedded message queue: SQLite with visibility timeouts and poison handling.

Shaped after Azure Queue Storage: a received message is invisible for a while and comes back
unless deleted; after ``max_dequeue`` receives it is moved to the poison queue.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from triage.ports.queues import LABEL_REQUESTS, QueueMessage, check_delay


class SqliteQueue:
    """A :class:`MessageQueue` in a SQLite file; ``{name}-poison`` receives messages that failed too often."""

    def __init__(self, path: str | Path, name: str = LABEL_REQUESTS, max_dequeue: int = 5,
                 clock: Callable[[], float] = time.time) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.max_dequeue = max_dequeue
        self._clock = clock
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS messages (queue TEXT, id TEXT PRIMARY KEY, body TEXT,"
                           " visible_at REAL, dequeue_count INTEGER, seq INTEGER)")
        self._mutex = threading.Lock()

    def send(self, message: Mapping[str, Any], queue: str | None = None, delay_seconds: int = 0) -> None:
        """Enqueue ``message`` (on this queue, or on ``queue``), visible after ``delay_seconds``."""
        delay = check_delay(delay_seconds)
        body = json.dumps(dict(message), sort_keys=True)
        with self._mutex:
            seq = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages").fetchone()[0]
            self._conn.execute("INSERT INTO messages VALUES (?, ?, ?, ?, 0, ?)",
                               (queue or self.name, uuid.uuid4().hex, body, self._clock() + delay, seq))

    def receive(self, max_messages: int = 1, visibility_timeout: float = 30.0) -> list[QueueMessage]:
        """Take up to ``max_messages`` visible messages, hiding them for ``visibility_timeout`` seconds.

        Messages already received ``max_dequeue`` times are moved to the poison queue instead.
        """
        now = self._clock()
        out: list[QueueMessage] = []
        with self._mutex:
            self._conn.execute("BEGIN IMMEDIATE")
            rows = self._conn.execute(
                "SELECT id, body, dequeue_count FROM messages WHERE queue = ? AND visible_at <= ? ORDER BY seq",
                (self.name, now)).fetchall()
            for msg_id, body, count in rows:
                if len(out) >= max_messages:
                    break
                if count >= self.max_dequeue:
                    self._conn.execute("UPDATE messages SET queue = ?, dequeue_count = 0 WHERE id = ?",
                                       (self.poison_name, msg_id))
                    continue
                self._conn.execute("UPDATE messages SET visible_at = ?, dequeue_count = ? WHERE id = ?",
                                   (now + visibility_timeout, count + 1, msg_id))
                out.append(QueueMessage(msg_id, json.loads(body), count + 1))
            self._conn.execute("COMMIT")
        return out

    def delete(self, message_id: str) -> None:
        """Remove a processed message."""
        with self._mutex:
            self._conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    @property
    def poison_name(self) -> str:
        """Name of the poison queue."""
        return f"{self.name}-poison"

    def depth(self, queue: str | None = None) -> int:
        """Messages waiting on this queue (or on ``queue``), visible or not."""
        with self._mutex:
            return int(self._conn.execute("SELECT COUNT(*) FROM messages WHERE queue = ?",
                                          (queue or self.name,)).fetchone()[0])

    def peek(self, queue: str | None = None) -> list[dict[str, Any]]:
        """Bodies of the messages on a queue, in order, without receiving them."""
        with self._mutex:
            rows = self._conn.execute("SELECT body FROM messages WHERE queue = ? ORDER BY seq",
                                      (queue or self.name,)).fetchall()
        return [json.loads(body) for (body,) in rows]
