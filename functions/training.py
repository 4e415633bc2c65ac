"""Training: started by a timer, by feedback (see webhook) or by HTTP; a Durable orchestration runs it.

The orchestrator is deterministic: it only yields activities and durable timers. It builds the
dataset, submits the job, then checks the job's status on a durable timer until the job ends
or the deadline passes, in which case it cancels the job and reports it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import azure.durable_functions as df
import azure.functions as func

from triage.app.installations import served_repositories
from triage.app.moves import current_name
from triage.app.training import (
    build_training_dataset,
    cancel_training,
    next_poll,
    own_schedule,
    record_training,
    submit_training,
    training_status,
)
from triage.domain.errors import TriageError

from ._runtime import error_response, json_response, services, start_training

bp = df.Blueprint()
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=15_000, max_number_of_attempts=3)


@bp.timer_trigger(arg_name="timer", schedule="%TRIAGE_TRAIN_SCHEDULE%")
@bp.durable_client_input(client_name="client")
async def train_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Retrain every served repository on the app's schedule, except those with a schedule of their own."""
    s = services()
    for repo in served_repositories(s.docs, s.app.repositories):
        if own_schedule(s, repo):
            continue  # started by the scrape timer when its own cron fires (scheduled_training_due)
        await start_training(client, s, repo, "schedule")


@bp.route(route="train/{owner}/{name}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def train_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start training on demand; 202 with status links, or 409 if a run is in progress."""
    try:
        repo = current_name(services().docs, f"{req.route_params.get('owner', '')}/{req.route_params.get('name', '')}")
    except TriageError as exc:
        return error_response(exc)
    instance = f"train:{repo}"
    if not await start_training(client, services(), repo, "http"):
        return json_response({"message": f"{instance} is already running"}, 409)
    return client.create_check_status_response(req, instance)


@bp.orchestration_trigger(context_name="context")
def training_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """build dataset → submit → (durable timer → status)* → record; cancel at the deadline."""
    request = context.get_input()
    repo = request["repo"]
    dataset = yield context.call_activity_with_retry("build_dataset_activity", RETRY, repo)
    job = yield context.call_activity_with_retry("submit_training_activity", RETRY, {
        "repo": repo, "dataset_version": dataset, "now": context.current_utc_datetime.isoformat(),
        "reason": request.get("reason", "")})
    deadline = context.current_utc_datetime + timedelta(minutes=request["deadline_minutes"])
    while True:
        fire_at = next_poll(context.current_utc_datetime, deadline, request["poll_seconds"])
        if fire_at is None:
            yield context.call_activity_with_retry("cancel_training_activity", RETRY, job["job_id"])
            state = {"state": "canceled", "detail": f"deadline of {request['deadline_minutes']} minutes passed"}
            break
        yield context.create_timer(fire_at)
        state = yield context.call_activity_with_retry("training_status_activity", RETRY, job["job_id"])
        if state["done"]:
            break
    yield context.call_activity_with_retry("record_training_activity", RETRY, {
        "repo": repo, "model_version": job["model_version"], "state": state["state"], "detail": state["detail"]})
    return {"repo": repo, "dataset_version": dataset, "model_version": job["model_version"], "state": state["state"]}


@bp.activity_trigger(input_name="repo")
def build_dataset_activity(repo: str) -> str:
    """Build the dataset from the stored issues."""
    return str(build_training_dataset(services(), repo)["version"])


@bp.activity_trigger(input_name="request")
def submit_training_activity(request: dict) -> dict:
    """Submit the training job."""
    return submit_training(services(), request["repo"], request["dataset_version"],
                           datetime.fromisoformat(request["now"]), request.get("reason", ""))


@bp.activity_trigger(input_name="jobId")
def training_status_activity(jobId: str) -> dict:  # noqa: N803 - binding names are camelCase by convention
    """The job's state."""
    return training_status(services(), jobId)


@bp.activity_trigger(input_name="jobId")
def cancel_training_activity(jobId: str) -> None:  # noqa: N803
    """Cancel the job."""
    cancel_training(services(), jobId)


@bp.activity_trigger(input_name="result")
def record_training_activity(result: dict) -> dict:
    """Record how the run ended."""
    return record_training(services(), result["repo"], result["model_version"], result["state"], result["detail"])
