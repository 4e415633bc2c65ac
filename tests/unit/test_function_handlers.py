"""Every kind of trigger, called through the registered app with real azure.functions objects.

The services are the embedded defaults in a temporary folder. The Durable client is replaced at
its boundary (it talks to the Functions host, which cannot run here).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from functions import _runtime
from tests.conftest import ROOT, app_functions, user_function
from tests.durable_double import FakeDurableClient, call_with_client
from triage.app.installations import apply_change
from triage.app.training import scheduled_training_due
from triage.domain.errors import InputError
from triage.domain.payloads import InstallationChange
from triage.domain.repo_config import parse_repo_config
from triage.learning.tuning import remember_config
from triage.ports.records import RUNS

SECRET = "s3cret-of-the-webhook-0123456789"


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for key, value in {"TRIAGE_HOME": str(tmp_path), "TRIAGE_WEBHOOK_SECRET": SECRET,
                       "TRIAGE_REPOSITORIES": "octo/widgets,octo/gadgets", "TRIAGE_RETRAIN_AFTER": "2"}.items():
        monkeypatch.setenv(key, value)
    _runtime.services.cache_clear()
    yield tmp_path
    _runtime.services.cache_clear()


def webhook_request(payload: dict[str, Any], delivery: str, secret: str = SECRET) -> func.HttpRequest:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return func.HttpRequest("POST", "/api/github/webhook", body=body, headers={
        "X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature})


def issue_event(action: str, number: int = 5, **extra: Any) -> dict[str, Any]:
    return {"action": action, "issue": {"number": number}, "repository": {"full_name": "octo/widgets"},
            "sender": {"login": "alice", "type": "User"}, **extra}


def test_webhook_enqueues_a_label_request(env: Path) -> None:
    client = FakeDurableClient()
    response = call_with_client("github_webhook", client, req=webhook_request(issue_event("opened"), "d1"))
    assert response.status_code == 200
    assert _runtime.services().queue.peek() == [{"repo": "octo/widgets", "number": 5, "reason": "opened", "delivery": "d1"}]
    forged = call_with_client("github_webhook", client, req=webhook_request(issue_event("opened"), "d2", "guess"))
    assert forged.status_code == 401 and _runtime.services().queue.depth() == 1


def test_enough_feedback_starts_training_once(env: Path) -> None:
    client = FakeDurableClient()
    for n in range(1, 4):
        event = issue_event("unlabeled", number=n, label={"name": "bug"})
        assert call_with_client("github_webhook", client, req=webhook_request(event, f"f{n}")).status_code == 200
    trainings = [s for s in client.started if s[0] == "training_orchestrator"]
    assert trainings[0][1] == "train:octo/widgets" and trainings[0][2]["reason"] == "feedback"
    client.running.add("train:octo/widgets")
    call_with_client("github_webhook", client, req=webhook_request(issue_event("unlabeled", 9, label={"name": "x"}), "f9"))
    assert len([s for s in client.started if s[0] == "training_orchestrator"]) == len(trainings), "singleton"


def test_timers_start_one_orchestration_per_repository(env: Path) -> None:
    client = FakeDurableClient(running={"scrape:octo/gadgets"})
    timer = func.timer.TimerRequest(past_due=False)
    call_with_client("scrape_timer", client, timer=timer)
    assert [(name, instance) for name, instance, _ in client.started] == [("scrape_orchestrator", "scrape:octo/widgets")]
    call_with_client("train_timer", client, timer=timer)
    assert {s[1] for s in client.started if s[0] == "training_orchestrator"} == {"train:octo/widgets", "train:octo/gadgets"}


def test_without_a_repository_list_the_timers_serve_the_apps_installations(env: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """TRIAGE_REPOSITORIES empty: the repositories come from the installation registry (issue #15, item 6); a removed
    repository and a suspended installation's repositories are left out."""
    monkeypatch.setenv("TRIAGE_REPOSITORIES", "")
    _runtime.services.cache_clear()
    s = _runtime.services()
    apply_change(s.docs, InstallationChange(1, "created", "octo", added=("octo/widgets", "octo/gone")))
    apply_change(s.docs, InstallationChange(1, "removed", "octo", removed=("octo/gone",),
                                            event="installation_repositories"))
    apply_change(s.docs, InstallationChange(2, "created", "acme", added=("acme/app",)))
    apply_change(s.docs, InstallationChange(3, "created", "paused", added=("paused/app",)))
    apply_change(s.docs, InstallationChange(3, "suspend", "paused"))
    timer, client = func.timer.TimerRequest(past_due=False), FakeDurableClient()
    call_with_client("scrape_timer", client, timer=timer)
    call_with_client("train_timer", client, timer=timer)
    started = {(name, instance) for name, instance, _ in client.started}
    assert started == {(kind, f"{verb}:{repo}") for kind, verb in (("scrape_orchestrator", "scrape"),
                                                                   ("training_orchestrator", "train"))
                       for repo in ("octo/widgets", "acme/app")}


def test_a_repository_with_its_own_schedule_is_trained_when_that_schedule_fires(env: Path) -> None:
    s = _runtime.services()
    remember_config(s.docs, "octo/gadgets", parse_repo_config('training: {schedule: "*/5 * * * *"}'))
    timer = func.timer.TimerRequest(past_due=False)
    client = FakeDurableClient()
    call_with_client("train_timer", client, timer=timer)  # the app-wide schedule leaves octo/gadgets to its own
    assert [c[1] for c in client.started] == ["train:octo/widgets"]
    call_with_client("scrape_timer", client, timer=timer)
    scheduled = [c for c in client.started if c[1] == "train:octo/gadgets"]
    assert len(scheduled) == 1 and scheduled[0][2]["reason"] == "schedule"
    # Once a run has started after the last fire time, the next scrape tick does not start another.
    s.docs.upsert(RUNS, {"id": "m1", "repo": "octo/gadgets", "state": "running",
                         "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    call_with_client("scrape_timer", FakeDurableClient(), timer=timer)
    assert not scheduled_training_due(s, "octo/gadgets", datetime.now(timezone.utc))
    assert scheduled_training_due(s, "octo/gadgets", datetime.now(timezone.utc) + timedelta(minutes=6))
    assert not scheduled_training_due(s, "octo/widgets", datetime.now(timezone.utc))  # no schedule of its own


def test_http_starters_answer_202_or_409(env: Path) -> None:
    client = FakeDurableClient(running={"train:octo/gadgets"})
    request = func.HttpRequest("POST", "/api/scrape/octo/widgets", body=b"", route_params={"owner": "octo", "name": "widgets"})
    assert call_with_client("scrape_http", client, req=request).status_code == 202
    busy = func.HttpRequest("POST", "/api/train/octo/gadgets", body=b"", route_params={"owner": "octo", "name": "gadgets"})
    assert call_with_client("train_http", client, req=busy).status_code == 409


def test_labeler_raises_on_a_bad_message_so_the_host_retries(env: Path) -> None:
    with pytest.raises(ValueError):
        user_function("label_issue")(func.QueueMessage(body=b"not json"))
    with pytest.raises(InputError, match="owner/name"):
        user_function("label_issue")(func.QueueMessage(body=json.dumps({"repo": "nope", "number": 1}).encode()))


def test_poison_messages_are_recorded_and_shown(env: Path) -> None:
    body = json.dumps({"repo": "octo/widgets", "number": 3, "reason": "opened"}).encode()
    user_function("label_issue_poison")(func.QueueMessage(body=body))
    response = user_function("status")(func.HttpRequest("GET", "/api/status", body=b""))
    status = json.loads(response.get_body())
    assert response.status_code == 200
    assert status["repositories"]["octo/widgets"]["poison_messages"] == 1
    assert set(status["queue"]) == {"depth", "poison"}


def test_model_created_rejects_a_blob_that_is_not_a_manifest(env: Path) -> None:
    blob = func.blob.InputStream(name="triage/models/octo/widgets/v1/other.json", data=b"{}")
    with pytest.raises(Exception, match="not a model manifest"):
        call_with_client("model_created", FakeDurableClient(), blob=blob)


def test_every_binding_names_a_defined_setting() -> None:
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    host = json.loads((ROOT / "host.json").read_text())
    named: set[str] = set(re.findall(r"%(\w+)%", json.dumps(host)))
    for function in app_functions().values():
        for binding in json.loads(function.get_function_json())["bindings"]:
            if binding.get("connection"):
                named.add(binding["connection"])
            named.update(re.findall(r"%(\w+)%", json.dumps(binding)))
    assert named >= {"TRIAGE_STORAGE", "TRIAGE_SCRAPE_SCHEDULE", "TRIAGE_TRAIN_SCHEDULE", "TRIAGE_TASK_HUB"}
    missing = sorted(n for n in named if n not in values)
    assert not missing, f"settings used by bindings but not in local.settings.example.json: {missing}"


def test_blob_trigger_listens_for_model_manifests_through_event_grid() -> None:
    bindings = json.loads(app_functions()["model_created"].get_function_json())["bindings"]
    trigger = next(b for b in bindings if b["type"] == "blobTrigger")
    assert trigger["path"] == "triage/models/{owner}/{name}/{version}/manifest.json"
    assert trigger["source"] == "EventGrid"
