"""Process-wide parts shared by the triggers: the services (built once) and the model cache."""

from __future__ import annotations

import functools
import logging

import azure.durable_functions as df

from triage import telemetry
from triage.bootstrap import Services, build_services
from triage.jobs import ModelCache

log = logging.getLogger(__name__)
RUNNING = {df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending,
           df.OrchestrationRuntimeStatus.ContinuedAsNew}


@functools.lru_cache(maxsize=1)
def services() -> Services:
    """The services the app settings describe, built on first use and kept for the process."""
    telemetry.configure_from_env()
    return build_services()


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
