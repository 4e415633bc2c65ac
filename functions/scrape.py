"""Scraping: a timer and an HTTP trigger start one singleton orchestration per repository (by its current name);
the orchestration calls the bounded scrape activity until the scrape is complete."""

from __future__ import annotations

from datetime import datetime, timezone

import azure.durable_functions as df
import azure.functions as func

from triage.app.installations import served_repositories
from triage.app.moves import current_name
from triage.app.scraping import (
    activity_input,
    first_wait,
    next_step,
    scrape_request,
    scrape_step,
    start_delays,
    timer_interval,
    timer_payload,
)
from triage.app.training import scheduled_training_due
from triage.domain.errors import TriageError
from triage.domain.issues import check_repo

from ._runtime import error_response, json_response, services, start_singleton, start_training

bp = df.Blueprint()
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=3)


@bp.timer_trigger(arg_name="timer", schedule="%TRIAGE_SCRAPE_SCHEDULE%")
@bp.durable_client_input(client_name="client")
async def scrape_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Start a scrape of every served repository, their first calls spread over half the timer's interval, and
    the training of those whose own schedule is due."""
    s = services()
    now = datetime.now(timezone.utc)
    served = served_repositories(s.docs, s.app.repositories)
    delays = start_delays(served, timer_interval(s.app.scrape_schedule, now))
    for repo in served:
        current = current_name(s.docs, repo)
        await start_singleton(client, "scrape_orchestrator", f"scrape:{current}", timer_payload(current, delays[repo]))
        if scheduled_training_due(s, repo, now):
            await start_training(client, s, repo, "schedule")


@bp.route(route="scrape/{owner}/{name}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def scrape_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start a scrape on demand; 202 with status links, or 409 if one is running."""
    try:
        repo = current_name(services().docs, check_repo(f"{req.route_params.get('owner', '')}/"
                                                        f"{req.route_params.get('name', '')}"))
    except TriageError as exc:
        return error_response(exc)
    instance = f"scrape:{repo}"
    if not await start_singleton(client, "scrape_orchestrator", instance, repo):
        return json_response({"message": f"{instance} is already running"}, 409)
    return client.create_check_status_response(req, instance)


@bp.orchestration_trigger(context_name="context")
def scrape_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """Bounded scrape activities until complete: a durable timer waits out a rate limit (and, first, the delay the
    timer gave to spread many repositories), and the orchestration continues as new every few calls so that its
    history stays short."""
    request = scrape_request(context.get_input())
    wait = first_wait(request, context.current_utc_datetime)
    if wait is not None:  # the timer spreads the starts of many repositories
        yield context.create_timer(wait)
    calls = 0
    while True:
        result = yield context.call_activity_with_retry("scrape_activity", RETRY, activity_input(request))
        calls += 1
        step = next_step(request, result, context.current_utc_datetime, calls)
        if step["action"] == "done":
            return step["result"]
        request = step["request"]
        if step["action"] == "restart":
            context.continue_as_new(request)
            return None
        if step["action"] == "wait":
            yield context.create_timer(step["fire_at"])


@bp.activity_trigger(input_name="request")
def scrape_activity(request: dict) -> dict:
    """One bounded call of a repository's scrape."""
    return scrape_step(services(), request)
