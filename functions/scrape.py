"""Scraping: a timer and an HTTP trigger start one singleton orchestration per repository."""

from __future__ import annotations

from datetime import datetime, timezone

import azure.durable_functions as df
import azure.functions as func

from triage.app.scraping import scrape_repository
from triage.app.training import scheduled_training_due
from triage.domain.errors import TriageError
from triage.domain.issues import check_repo

from ._runtime import error_response, json_response, services, start_singleton, start_training

bp = df.Blueprint()
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=3)


@bp.timer_trigger(arg_name="timer", schedule="%TRIAGE_SCRAPE_SCHEDULE%")
@bp.durable_client_input(client_name="client")
async def scrape_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Start a scrape of every configured repository, and the training of those whose own schedule is due."""
    s = services()
    now = datetime.now(timezone.utc)
    for repo in s.app.repositories:
        await start_singleton(client, "scrape_orchestrator", f"scrape:{repo}", repo)
        if scheduled_training_due(s, repo, now):
            await start_training(client, s, repo, "schedule")


@bp.route(route="scrape/{owner}/{name}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def scrape_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start a scrape on demand; 202 with status links, or 409 if one is running."""
    try:
        repo = check_repo(f"{req.route_params.get('owner', '')}/{req.route_params.get('name', '')}")
    except TriageError as exc:
        return error_response(exc)
    instance = f"scrape:{repo}"
    if not await start_singleton(client, "scrape_orchestrator", instance, repo):
        return json_response({"message": f"{instance} is already running"}, 409)
    return client.create_check_status_response(req, instance)


@bp.orchestration_trigger(context_name="context")
def scrape_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """One scrape activity, retried; the activity checkpoints every page itself."""
    result = yield context.call_activity_with_retry("scrape_activity", RETRY, context.get_input())
    return result


@bp.activity_trigger(input_name="repo")
def scrape_activity(repo: str) -> dict:
    """Scrape one repository."""
    return scrape_repository(services(), repo)
