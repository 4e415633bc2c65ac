"""Session-scoped pytest fixtures that start the Azure emulators once and stop them at the end.

Use them from a conftest or a test module with
``from tests.emulators.fixtures import azurite, cosmos  # noqa: F401``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.emulators.run import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    start_azurite,
    start_cosmos,
)


@dataclass(frozen=True)
class Azurite:
    """A running Azurite: its connection string and service endpoints (account in the path)."""

    connection_string: str
    blob_endpoint: str
    queue_endpoint: str
    table_endpoint: str
    account_name: str = AZURITE_ACCOUNT
    account_key: str = AZURITE_KEY


@dataclass(frozen=True)
class Cosmos:
    """A running Cosmos DB emulator (plain HTTP; clients need ``enable_endpoint_discovery=False``)."""

    endpoint: str
    key: str

    @property
    def connection_string(self) -> str:
        """``AccountEndpoint=…;AccountKey=…;`` for ``CosmosClient.from_connection_string``."""
        return f"AccountEndpoint={self.endpoint};AccountKey={self.key};"


def _endpoints(connection_string: str) -> dict[str, str]:
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if p)
    return {k: v for k, v in parts.items() if k.endswith("Endpoint")}


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite (Blob, Queue, Table) on loopback, data in a session temp folder."""
    conn, stop = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        ends = _endpoints(conn)
        yield Azurite(conn, ends["BlobEndpoint"], ends["QueueEndpoint"], ends["TableEndpoint"])
    finally:
        stop()


@pytest.fixture(scope="session")
def cosmos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cosmos]:
    """The Cosmos DB SQL API emulator (in memory) on loopback."""
    endpoint, key, stop = start_cosmos(tmp_path_factory.mktemp("cosmos"))
    try:
        yield Cosmos(endpoint, key)
    finally:
        stop()
