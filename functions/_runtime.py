"""Process-wide parts shared by the triggers: the services (built once), the model cache, starting orchestrations,
and turning core errors into HTTP answers (the one mapping lives in :func:`triage.web.http.status_for`)."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from triage.app import telemetry
from triage.app.bootstrap import Services, build_services
from triage.app.labeling import ModelCache
from triage.app.training import training_input
from triage.domain.errors import TriageError
from triage.web.http import status_for

log = logging.getLogger(__name__)
RUNNING = {df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending,
           df.OrchestrationRuntimeStatus.ContinuedAsNew}


@functools.lru_cache(maxsize=1)
def services() -> Services:
    """The services the app settings describe, built on first use and kept for the process."""
    s = build_services()
    telemetry.configure(s.config.telemetry.connection_string)
    return s


@functools.lru_cache(maxsize=1)
def model_cache() -> ModelCache:
    """Current models, cached across invocations."""
    return ModelCache()


async def start_singleton(client: df.DurableOrchestrationClient, orchestrator: str, instance_id: str,
                          payload: object) -> bool:
    """Start ``orchestrator`` as ``instance_id`` unless that instance is already running; True if started."""
    status = await client.get_status(instance_id)
    if status is not None and status.runtime_status in RUNNING:
        log.info("%s is already running; not starting it twice", instance_id)
        return False
    await client.start_new(orchestrator, instance_id, payload)
    return True


async def start_training(client: df.DurableOrchestrationClient, s: Services, repo: str, reason: str) -> bool:
    """Start the repository's training orchestration (one per repository at a time); True if started."""
    payload = training_input(s, repo, reason)  # under the repository's current name
    return await start_singleton(client, "training_orchestrator", f"train:{payload['repo']}", payload)


def json_response(body: Any, status: int = 200) -> func.HttpResponse:
    """A JSON HTTP response."""
    return func.HttpResponse(json.dumps(body, indent=1), status_code=status, mimetype="application/json")


def error_response(error: TriageError) -> func.HttpResponse:
    """The HTTP answer to an error the core raised on purpose: its status and its message."""
    return json_response({"message": str(error)}, status_for(error))
