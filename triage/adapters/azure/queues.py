"""The message queue port on Azure Queue Storage."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueServiceClient

from triage.adapters.azure.credentials import StorageCredential, default_credential
from triage.ports.queues import check_delay


class AzureQueue:
    """A :class:`~triage.queues.MessageQueue` on Azure Queue Storage.

    Messages are JSON, base64-encoded, which is what the Functions host's queue trigger
    expects by default (``messageEncoding: base64``). Queues are created on first send.
    """

    def __init__(self, queue_service_client: QueueServiceClient, name: str) -> None:
        self._service = queue_service_client
        self.name = name
        self._queues: dict[str, QueueClient] = {}

    @classmethod
    def from_connection_string(cls, conn: str, name: str) -> AzureQueue:
        """Connect with a storage connection string (e.g. Azurite's)."""
        return cls(QueueServiceClient.from_connection_string(conn), name)

    @classmethod
    def from_service_uri(cls, uri: str, name: str, credential: StorageCredential | None = None) -> AzureQueue:
        """Connect to ``https://<account>.queue.core.windows.net`` (``DefaultAzureCredential``
        when ``credential`` is None)."""
        return cls(QueueServiceClient(account_url=uri, credential=credential or default_credential()), name)

    def _queue(self, queue: str | None) -> QueueClient:
        name = queue or self.name
        if name not in self._queues:
            self._queues[name] = self._service.get_queue_client(name)
        return self._queues[name]

    def send(self, message: Mapping[str, Any], queue: str | None = None, delay_seconds: int = 0) -> None:
        """Enqueue ``message`` on this queue (or on ``queue``), creating the queue if missing; a ``delay_seconds``
        above 0 is the message's initial visibility timeout."""
        client = self._queue(queue)
        text = encode_message(message)
        delay = check_delay(delay_seconds) or None
        try:
            client.send_message(text, visibility_timeout=delay)
        except ResourceNotFoundError:
            try:
                client.create_queue()
            except ResourceExistsError:
                pass
            client.send_message(text, visibility_timeout=delay)

    def depth(self, queue: str | None = None) -> int:
        """Approximate number of messages on this queue (or on ``queue``); 0 if it does not exist."""
        try:
            count = self._queue(queue).get_queue_properties().approximate_message_count
        except ResourceNotFoundError:
            return 0
        return int(count or 0)

    def close(self) -> None:
        """Close the underlying HTTP pipelines."""
        for client in self._queues.values():
            client.close()
        self._service.close()


def encode_message(message: Mapping[str, Any]) -> str:
    """A message body as the Functions queue trigger reads it: base64 of UTF-8 JSON."""
    return base64.b64encode(json.dumps(dict(message), sort_keys=True).encode()).decode("ascii")
