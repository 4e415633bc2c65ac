"""Durable orchestrators, driven by azure.durable_functions.testing with a mocked context (the Durable boundary)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
from azure.durable_functions.testing import orchestrator_generator_wrapper

from tests.conftest import user_function
from triage.app.scraping import (
    CALLS_PER_GENERATION,
    MIN_WAIT,
    PAGE_BUDGET,
    activity_input,
    next_step,
    scrape_request,
)
from triage.domain.errors import InputError


def orchestrator(name: str):
    return user_function(name).orchestrator_function


class Task:
    """What the Durable context returns: a task whose result the replay sends back (or raises)."""

    def __init__(self, kind: str, name: str, payload: Any, result: Any) -> None:
        self.kind, self.name, self.payload, self._result = kind, name, payload, result

    @property
    def result(self) -> Any:
        if isinstance(self._result, Exception):
            raise self._result
        return self._result


class Context:
    """A scripted orchestration context: activity results come from ``script``; time advances with timers."""

    def __init__(self, payload: Any, script: dict[str, Any]) -> None:
        self.payload = payload
        self.script = {k: (list(v) if isinstance(v, list) and k.endswith("*") else v) for k, v in script.items()}
        self.current_utc_datetime = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
        self.calls: list[Task] = []
        self.continued: list[Any] = []
        self.mock = mock.Mock()

    def get_input(self) -> Any:
        return self.payload

    def _result(self, name: str, payload: Any) -> Any:
        if name + "*" in self.script:  # a sequence of results, one per call
            return self.script[name + "*"].pop(0)
        value = self.script[name]
        return value(payload) if callable(value) else value

    def call_activity(self, name: str, payload: Any = None) -> Task:
        task = Task("activity", name, payload, self._result(name, payload))
        self.calls.append(task)
        return task

    def call_activity_with_retry(self, name: str, retry_options: Any, payload: Any = None) -> Task:
        assert retry_options.max_number_of_attempts >= 2, "activities that touch the outside are retried"
        return self.call_activity(name, payload)

    def create_timer(self, fire_at: datetime) -> Task:
        assert fire_at > self.current_utc_datetime
        self.current_utc_datetime = fire_at
        task = Task("timer", "timer", fire_at, None)
        self.calls.append(task)
        return task

    def continue_as_new(self, payload: Any) -> None:
        self.continued.append(payload)

    def task_all(self, tasks: list[Task]) -> Task:
        return Task("all", "task_all", [t.name for t in tasks], [t.result for t in tasks])


def run(name: str, context: Context) -> Any:
    steps = list(orchestrator_generator_wrapper(orchestrator(name)(context)))
    return steps[-1]


def names(context: Context) -> list[str]:
    return [t.name for t in context.calls]


PAUSED = {"repo": "octo/widgets", "complete": False, "status": "budget", "issue_pages": 50, "requests": 50}
DONE = {"repo": "octo/widgets", "complete": True, "status": "ok", "issue_pages": 7, "requests": 9}


def test_scrape_orchestrator_calls_the_bounded_activity_until_the_scrape_is_complete() -> None:
    context = Context("octo/widgets", {"scrape_activity*": [PAUSED, PAUSED, PAUSED, PAUSED, DONE]})
    result = run("scrape_orchestrator", context)
    assert names(context) == ["scrape_activity"] * 5, "no timer between calls that only spent their budget"
    assert all(t.payload == activity_input({"repo": "octo/widgets"}) for t in context.calls)
    assert context.calls[0].payload["page_budget"] == PAGE_BUDGET
    assert result["complete"] and result["calls"] == 5
    assert result["issue_pages"] == 4 * 50 + 7 and result["requests"] == 4 * 50 + 9, "totals of every call"


def test_a_rate_limited_scrape_waits_for_the_reset_on_a_durable_timer() -> None:
    limited = {**PAUSED, "status": "rate-limited", "retry_at": "2026-11-24T04:30:00+00:00"}
    context = Context("octo/widgets", {"scrape_activity*": [limited, DONE]})
    assert run("scrape_orchestrator", context)["complete"]
    assert names(context) == ["scrape_activity", "timer", "scrape_activity"]
    assert context.calls[1].payload == datetime(2026, 11, 24, 4, 30, tzinfo=timezone.utc)


def test_a_reset_already_past_still_waits_so_the_orchestration_never_spins() -> None:
    limited = {**PAUSED, "status": "rate-limited", "retry_at": "2026-11-24T02:00:00+00:00"}  # before "now"
    context = Context("octo/widgets", {"scrape_activity*": [limited, limited, DONE]})
    run("scrape_orchestrator", context)
    timers = [t.payload for t in context.calls if t.name == "timer"]
    start = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
    assert len(timers) == 2 and timers[0] >= start + MIN_WAIT and timers[1] >= timers[0] + MIN_WAIT


def test_a_long_scrape_continues_as_new_with_its_totals() -> None:
    context = Context("octo/widgets", {"scrape_activity": PAUSED})
    assert run("scrape_orchestrator", context) is None
    assert names(context) == ["scrape_activity"] * CALLS_PER_GENERATION
    (again,) = context.continued
    assert again["repo"] == "octo/widgets" and again["generation"] == 1 and again["calls"] == CALLS_PER_GENERATION
    assert again["totals"]["issue_pages"] == 50 * CALLS_PER_GENERATION
    follow = Context(again, {"scrape_activity*": [DONE]})
    assert run("scrape_orchestrator", follow)["calls"] == CALLS_PER_GENERATION + 1


def test_a_scrape_that_moved_to_a_new_name_goes_on_under_it() -> None:
    moved = {**PAUSED, "repo": "octo-org/gadgets"}
    context = Context("octo/widgets", {"scrape_activity*": [moved, {**DONE, "repo": "octo-org/gadgets"}]})
    run("scrape_orchestrator", context)
    assert [t.payload["repo"] for t in context.calls] == ["octo/widgets", "octo-org/gadgets"]


def test_activity_failure_after_retries_fails_the_orchestration() -> None:
    context = Context("octo/widgets", {"scrape_activity": RuntimeError("GitHub is down")})
    with pytest.raises(RuntimeError, match="GitHub is down"):
        run("scrape_orchestrator", context)


def test_the_next_step_is_a_pure_decision() -> None:
    request = scrape_request("Octo/Widgets")
    now = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
    assert request == {"repo": "octo/widgets", "generation": 0, "calls": 0, "totals": {}}
    assert next_step(request, DONE, now, 1)["action"] == "done"
    assert next_step(request, PAUSED, now, 1)["action"] == "call"
    assert next_step(request, PAUSED, now, CALLS_PER_GENERATION)["action"] == "restart"
    limited = {**PAUSED, "retry_at": "2026-11-24T05:00:00+00:00"}
    waited = next_step(request, limited, now, CALLS_PER_GENERATION)
    assert waited["action"] == "wait" and waited["fire_at"] == datetime(2026, 11, 24, 5, 0, tzinfo=timezone.utc)
    assert next_step(request, {**DONE, "status": "issues-disabled"}, now, 1)["action"] == "done", "no retry loop"
    with pytest.raises(InputError):
        scrape_request({"repo": "../.."})


TRAIN = {"repo": "octo/widgets", "reason": "http", "poll_seconds": 60, "deadline_minutes": 5}


def test_training_succeeds_after_polling() -> None:
    context = Context(TRAIN, {
        "build_dataset_activity": "ds123456",
        "submit_training_activity": {"job_id": "job-1", "model_version": "v1"},
        "training_status_activity*": [{"state": "queued", "done": False, "detail": ""},
                                      {"state": "running", "done": False, "detail": ""},
                                      {"state": "succeeded", "done": True, "detail": ""}],
        "record_training_activity": lambda p: p,
    })
    result = run("training_orchestrator", context)
    assert result == {"repo": "octo/widgets", "dataset_version": "ds123456", "model_version": "v1", "state": "succeeded"}
    assert names(context) == ["build_dataset_activity", "submit_training_activity", "timer", "training_status_activity",
                              "timer", "training_status_activity", "timer", "training_status_activity",
                              "record_training_activity"]
    assert context.calls[1].payload["now"] == "2026-11-24T03:00:00+00:00", "time comes from the orchestration"


def test_training_past_its_deadline_is_cancelled_and_reported() -> None:
    running = {"state": "running", "done": False, "detail": ""}
    context = Context(TRAIN, {
        "build_dataset_activity": "ds123456",
        "submit_training_activity": {"job_id": "job-1", "model_version": "v1"},
        "training_status_activity": running,
        "cancel_training_activity": None,
        "record_training_activity": lambda p: p,
    })
    result = run("training_orchestrator", context)
    assert result["state"] == "canceled"
    assert names(context).count("training_status_activity") == 5, "one check a minute for five minutes"
    cancel = next(t for t in context.calls if t.name == "cancel_training_activity")
    assert cancel.payload == "job-1"
    record = context.calls[-1]
    assert record.name == "record_training_activity" and "deadline" in record.payload["detail"]
    assert context.current_utc_datetime <= datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc) + timedelta(minutes=5)


def test_failed_training_is_recorded_as_failed() -> None:
    context = Context(TRAIN, {
        "build_dataset_activity": "ds123456",
        "submit_training_activity": {"job_id": "job-1", "model_version": "v1"},
        "training_status_activity": {"state": "failed", "done": True, "detail": "CUDA out of memory"},
        "record_training_activity": lambda p: p,
    })
    assert run("training_orchestrator", context)["state"] == "failed"
    assert context.calls[-1].payload["detail"] == "CUDA out of memory"


def test_relabel_fans_out_in_batches_and_sums() -> None:
    numbers = list(range(1, 48))
    context = Context({"repo": "octo/widgets", "batch": 10}, {
        "open_issues_activity": numbers,
        "relabel_batch_activity": lambda p: {"labeled": len(p["numbers"]) - 1, "abstained": 1, "failed": 0},
    })
    result = run("relabel_orchestrator", context)
    batches = [t.payload["numbers"] for t in context.calls if t.name == "relabel_batch_activity"]
    assert [len(b) for b in batches] == [10, 10, 10, 10, 7]
    assert sorted(n for b in batches for n in b) == numbers, "every issue exactly once"
    assert result == {"labeled": 42, "abstained": 5, "failed": 0, "issues": 47}
