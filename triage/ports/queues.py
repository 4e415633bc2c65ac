"""The message queue port, shaped after Azure Queue Storage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

LABEL_REQUESTS = "label-requests"
LABEL_REQUESTS_POISON = f"{LABEL_REQUESTS}-poison"


class MessageQueue(Protocol):
    """Where work is handed on (Azure Queue Storage in the cloud, :class:`SqliteQueue` embedded)."""

    def send(self, message: Mapping[str, Any], queue: str | None = None) -> None:
        """Enqueue a JSON-serialisable message on this queue (or on the queue named ``queue``)."""
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
