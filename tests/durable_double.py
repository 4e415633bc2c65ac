"""A stand-in for the Durable client, the one boundary the Functions host owns."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from tests.conftest import user_function


class FakeDurableClient:
    """Stands in for DurableOrchestrationClient; records what the trigger started."""

    def __init__(self, running: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.running = set(running)
        self.started: list[tuple[str, str | None, Any]] = []

    async def get_status(self, instance_id: str) -> Any:
        if instance_id in self.running:
            return type("Status", (), {"runtime_status": df.OrchestrationRuntimeStatus.Running})()
        return type("Status", (), {"runtime_status": None})()

    async def start_new(self, name: str, instance_id: str | None = None, payload: Any = None) -> str:
        self.started.append((name, instance_id, payload))
        return instance_id or "generated"

    def create_check_status_response(self, req: func.HttpRequest, instance_id: str) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"id": instance_id}), status_code=202)


def call_with_client(name: str, client: FakeDurableClient, **kwargs: Any) -> Any:
    inner = user_function(name).__wrapped__  # below the Durable client middleware
    return asyncio.run(inner(client=client, **kwargs))
