"""A new model's manifest.json arrived: evaluate against the champion, promote or reject, then relabel."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from triage.app.models import on_model_created
from triage.app.relabel import open_unlabeled_issues, relabel_batch
from triage.ports.layout import MODEL_MANIFEST_TRIGGER

from ._runtime import model_cache, services

bp = df.Blueprint()
PARALLEL_BATCHES = 2  # GitHub's secondary rate limits punish bursts of concurrent writes


@bp.blob_trigger(arg_name="blob", path=MODEL_MANIFEST_TRIGGER,
                 connection="TRIAGE_STORAGE", source=func.BlobSource.EVENT_GRID)
@bp.durable_client_input(client_name="client")
async def model_created(blob: func.InputStream, client: df.DurableOrchestrationClient) -> None:
    """Run the promotion gate; after a promotion, relabel the open issues with the new model."""
    s = services()
    outcome = on_model_created(s, str(blob.name))
    if outcome["promoted"]:
        await client.start_new("relabel_orchestrator", None, {"repo": outcome["repo"], "batch": s.app.relabel_batch})


@bp.orchestration_trigger(context_name="context")
def relabel_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """Fan out the open, humanly-unlabeled issues in batches, a few batches at a time; fan in the counts."""
    request = context.get_input()
    numbers = yield context.call_activity("open_issues_activity", request["repo"])
    batches = [numbers[i:i + request["batch"]] for i in range(0, len(numbers), request["batch"])]
    totals = {"labeled": 0, "abstained": 0, "failed": 0, "issues": len(numbers)}
    for start in range(0, len(batches), PARALLEL_BATCHES):
        wave = [context.call_activity("relabel_batch_activity", {"repo": request["repo"], "numbers": batch})
                for batch in batches[start:start + PARALLEL_BATCHES]]
        for counts in (yield context.task_all(wave)):
            for key, value in counts.items():
                totals[key] += value
    return totals


@bp.activity_trigger(input_name="repo")
def open_issues_activity(repo: str) -> list:
    """Issue numbers to relabel."""
    return open_unlabeled_issues(services(), repo, model_cache())


@bp.activity_trigger(input_name="request")
def relabel_batch_activity(request: dict) -> dict:
    """Label one batch."""
    return relabel_batch(services(), request["repo"], request["numbers"], model_cache())
