"""The message queue port, shaped after Azure Queue Storage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

LABEL_REQUESTS = "label-requests"
LABEL_REQUESTS_POISON = f"{LABEL_REQUESTS}-poison"
MAX_DELAY_SECONDS = 7 * 24 * 3600 - 1  # Azure Queue Storage: a visibility timeout below the 7-day time to live


def check_delay(delay_seconds: int) -> int:
    """``delay_seconds`` if it is a whole number of seconds a queue accepts; ValueError naming the range."""
    if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int) or not \
            0 <= delay_seconds <= MAX_DELAY_SECONDS:
        raise ValueError(f"a message delay must be a whole number of seconds from 0 to {MAX_DELAY_SECONDS}, "
                         f"got {delay_seconds!r}")
    return delay_seconds


class MessageQueue(Protocol):
    """Where work is handed on (Azure Queue Storage in the cloud, :class:`SqliteQueue` embedded)."""

    def send(self, message: Mapping[str, Any], queue: str | None = None, delay_seconds: int = 0) -> None:
        """Enqueue a JSON-serialisable message on this queue (or on the queue named ``queue``), invisible to
        receivers for ``delay_seconds`` (Azure's visibility timeout; at most 7 days less a second)."""
        ...

    def depth(self, queue: str | None = None) -> int:
        """Approximate number of messages on this queue (or on ``queue``)."""
        ...


@dataclass(frozen=True)
class QueueMessage:
    """A received message."""

    id: str
    body: dict[str, Any]
    dequeue_count: int
