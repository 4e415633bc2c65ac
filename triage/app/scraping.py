"""Scraping use case: keep the issue store up to date with a repository on GitHub, in bounded calls.

The Function app's orchestration calls :func:`scrape_step` until the scrape is complete; :func:`next_step`
is its one decision (call again, wait for the rate limit's reset, continue as new, or stop), a pure function.
A repository that GitHub redirects to a new name has its data carried there (:mod:`triage.app.moves`) and
the scrape goes on under the new name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.app.moves import MAX_MOVES, carry_repository, current_name, unfinished_moves
from triage.data.scraper import scrape
from triage.domain.errors import InputError, RepositoryMoved
from triage.domain.issues import check_repo
from triage.domain.schedule import Cron

PAGE_BUDGET = 50  # GitHub requests per activity call: a few minutes at most, well under the 10-minute timeout
TIME_BUDGET = 300.0  # seconds per activity call, whatever GitHub's latency
RATE_WAIT = 60.0  # the longest an activity waits for the rate limit itself; a durable timer waits longer
CALLS_PER_GENERATION = 20  # activity calls before the orchestration continues as new (a short history)
MIN_WAIT = timedelta(seconds=30)  # a reset already past (clock skew) still waits: never spin on a rate limit
SPREAD_SHARE = 0.5  # the timer's scrapes of several repositories start spread over this share of its interval...
MAX_SPREAD = timedelta(minutes=30)  # ... and over this much at most
COUNTERS = ("issue_pages", "event_pages", "issue_requests", "issues_seen", "issues_changed", "gone", "requests")


def scrape_repository(s: Services, repo: str, *, page_budget: int | None = None, time_budget: float | None = None,
                      full: bool = False, include_pull_requests: bool = False) -> dict[str, Any]:
    """Scrape one repository (resuming if interrupted; all of it unless a budget bounds this call) and report it.

    ``repo`` may be a name the repository had before: the scrape runs under its current name.
    """
    api = s.github()
    if page_budget is not None:
        from triage.adapters.github.client import GitHubClient  # already loaded by s.github(); kept off cold start

        if isinstance(api, GitHubClient):
            api.max_rate_wait = min(api.max_rate_wait, RATE_WAIT)
    for old, new in unfinished_moves(s.docs, repo):  # a carry that crashed is finished first
        carry_repository(s.docs, s.blobs, old, new)
    repo = current_name(s.docs, repo)
    with telemetry.span("scrape", repo=repo):
        for _ in range(MAX_MOVES):
            try:
                result = scrape(api, s.docs, s.blobs, repo, full=full, include_pull_requests=include_pull_requests,
                                page_budget=page_budget, time_budget=time_budget)
                break
            except RepositoryMoved as moved:
                carried = carry_repository(s.docs, s.blobs, moved.old, moved.new)
                telemetry.event("RepositoryMoved", **carried)
                repo = moved.new
        else:
            raise InputError(f"{repo} was renamed more than {MAX_MOVES} times during one scrape")
    out = result.to_dict() | {"requests": getattr(api, "requests_made", None)}
    telemetry.event("ScrapeCompleted" if result.complete else "ScrapePaused", **out)
    telemetry.count("triage.scrape.requests", out["requests"] or 0, repo=repo)
    if result.not_modified:
        telemetry.count("triage.scrape.not_modified", 1, repo=repo)
    return out


def timer_interval(schedule: str, now: datetime) -> timedelta:
    """The time between the last two fire times of the NCRONTAB ``schedule`` before ``now`` (a day if unknown)."""
    cron = Cron(schedule, host=True)
    last = cron.last_fire(now)
    before = cron.last_fire(last - timedelta(seconds=1)) if last else None
    return last - before if last and before else timedelta(days=1)


def start_delays(repos: Sequence[str], interval: timedelta) -> dict[str, float]:
    """Seconds each repository's scrape waits after the timer fired: evenly spread, in the order given, over
    :data:`SPREAD_SHARE` of the timer's ``interval`` (at most :data:`MAX_SPREAD`), so that a thousand
    repositories do not all call GitHub and the stores in the same second. The first one starts at once."""
    window = min(interval * SPREAD_SHARE, MAX_SPREAD).total_seconds()
    return {repo: math.floor(10 * window * k / len(repos)) / 10 for k, repo in enumerate(repos)}


def timer_payload(repo: str, delay: float) -> str | dict[str, Any]:
    """What the timer starts a repository's scrape with: its name, and the wait before its first call if any."""
    return {"repo": repo, "delay_seconds": delay} if delay > 0 else repo


def scrape_request(payload: object) -> dict[str, Any]:
    """The orchestration's input: a repository name (as the starters pass it), the timer's name and delay, or the
    state it continues as new. :class:`InputError` for a delay that is not between 0 and :data:`MAX_SPREAD`."""
    request = {"repo": payload} if isinstance(payload, str) else dict(payload) if isinstance(payload, Mapping) else {}
    delay = request.get("delay_seconds", 0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= MAX_SPREAD.total_seconds():
        raise InputError(f"a scrape's delay_seconds must be a number of seconds from 0 to "
                         f"{MAX_SPREAD.total_seconds():.0f}, got {delay!r}")
    return {"repo": check_repo(request.get("repo")), "generation": int(request.get("generation", 0)),
            "calls": int(request.get("calls", 0)), "totals": dict(request.get("totals") or {}),
            **({"delay_seconds": float(delay)} if delay else {})}


def first_wait(request: Mapping[str, Any], now: datetime) -> datetime | None:
    """When the orchestration's first activity call may run, if it must wait (the timer's spread), else None."""
    if request["calls"] == 0 and request["generation"] == 0 and request.get("delay_seconds", 0) > 0:
        return now + timedelta(seconds=float(request["delay_seconds"]))
    return None


def activity_input(request: Mapping[str, Any]) -> dict[str, Any]:
    """What one activity call is asked to do."""
    return {"repo": request["repo"], "page_budget": PAGE_BUDGET, "time_budget": TIME_BUDGET}


def scrape_step(s: Services, request: Mapping[str, Any]) -> dict[str, Any]:
    """One bounded call of the repository's scrape (the activity)."""
    return scrape_repository(s, check_repo(request.get("repo")), page_budget=int(request.get("page_budget") or
                                                                                 PAGE_BUDGET),
                             time_budget=float(request.get("time_budget") or TIME_BUDGET))


def next_step(request: Mapping[str, Any], result: Mapping[str, Any], now: datetime,
              calls_this_generation: int) -> dict[str, Any]:
    """What the orchestration does after an activity call: ``done`` (with the totals), ``call`` again, ``wait``
    until ``fire_at`` (a primary rate limit) then call, or ``restart`` (continue as new with ``request``)."""
    totals = {key: int(request["totals"].get(key) or 0) + int(result.get(key) or 0) for key in COUNTERS}
    following = {**request, "repo": result.get("repo") or request["repo"], "calls": request["calls"] + 1,
                 "totals": totals}
    if result.get("complete", True):
        return {"action": "done", "result": {**result, **totals, "calls": following["calls"]}}
    if result.get("retry_at"):
        fire_at = max(datetime.fromisoformat(str(result["retry_at"])), now + MIN_WAIT)
        return {"action": "wait", "fire_at": fire_at, "request": following}
    if calls_this_generation >= CALLS_PER_GENERATION:
        following["generation"] = request["generation"] + 1
        return {"action": "restart", "request": following}
    return {"action": "call", "request": following}
