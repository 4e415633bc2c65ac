"""The learning loop end to end through the Function app, on the embedded stores and the GitHub test server.

A model is trained and promoted; new issues arrive by webhook and are labeled (dry run); maintainers
correct the labeler by label events; live precision falls, auto-tuning raises the threshold,
the configured count of corrections starts a retrain orchestration, the next dataset learns the
corrected labels and holds recent issues out, and the promotion gate scores both models on them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from functions import _runtime
from tests.conftest import user_function
from tests.durable_double import FakeDurableClient, call_with_client
from tests.github_server import GitHubServer, build_fixture
from training_job.train import TrainConfig, run
from triage.app.models import on_model_created
from triage.app.scraping import scrape_repository
from triage.app.training import build_training_dataset
from triage.data.dataset import load_split
from triage.domain.issues import Issue
from triage.learning.registry import upload_model
from triage.ports.training import TrainingArguments

REPO = "dotnet/corefx"
SECRET = "loop-secret-0123456789abcdef"
FIXTURE = 240  # issues the first model learns from
RETRAIN_AFTER = 30  # the repository config's training.min_new_labels


@pytest.fixture()
def loop_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[GitHubServer]:
    with GitHubServer(build_fixture(limit=FIXTURE)) as server:
        server.add_token("token", "issue-triage[bot]", actor_type="Bot")
        server.set_file(".github/issue-labeler.yml",
                        f"thresholds: {{default: 0.05}}\ntraining: {{min_new_labels: {RETRAIN_AFTER}}}\n")
        for key, value in {"TRIAGE_HOME": str(tmp_path / "home"), "TRIAGE_WEBHOOK_SECRET": SECRET,
                           "TRIAGE_REPOSITORIES": REPO, "GITHUB_API_URL": server.url, "GITHUB_TOKEN": "token",
                           "TRIAGE_AUTO_TUNE": "true", "TRIAGE_AUTO_TUNE_MIN_DECISIONS": "4",
                           "TRIAGE_RECENT_FRACTION": "0.5", "TRIAGE_MIN_EXAMPLES": "8"}.items():
            monkeypatch.setenv(key, value)
        _runtime.services.cache_clear()
        _runtime.model_cache.cache_clear()
        yield server
        _runtime.services.cache_clear()
        _runtime.model_cache.cache_clear()


def deliver(client: FakeDurableClient, payload: dict[str, Any], delivery: str) -> None:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = func.HttpRequest("POST", "/api/github/webhook", body=body, headers={
        "X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature})
    assert call_with_client("github_webhook", client, req=request).status_code == 200


def train_and_announce(tmp_path: Path, encoder: Path, name: str) -> dict[str, Any]:
    """What the training orchestration does with the embedded backend, then the model-created event."""
    s = _runtime.services()
    dataset = build_training_dataset(s, REPO)["version"]
    folder = s.blobs.local_path(f"datasets/{REPO}/{dataset}")
    assert folder is not None
    run(TrainConfig(data=folder, output=tmp_path / name, progress=False, version=name,
                    args=TrainingArguments(base_model=str(encoder), max_tokens=32, epochs=2, batch_size=8)))
    upload_model(s.blobs, s.docs, tmp_path / name)
    return on_model_created(s, f"models/{REPO}/{name}/manifest.json") | {"dataset": dataset}


def status() -> dict[str, Any]:
    response = user_function("status")(func.HttpRequest("GET", "/api/status", body=b""))
    return json.loads(response.get_body())["repositories"][REPO]


def test_corrections_lower_live_precision_tune_thresholds_retrain_and_gate_on_recent_issues(
        loop_env: GitHubServer, tmp_path: Path, corefx_issues: list[Issue], tiny_encoder: Path) -> None:
    server, s = loop_env, _runtime.services()
    scrape_repository(s, REPO)
    first = train_and_announce(tmp_path, tiny_encoder, "m1")
    assert first["promoted"]
    known = set(json.loads(s.blobs.get(f"models/{REPO}/m1/manifest.json"))["labels"])

    # New issues arrive by webhook and are labeled (dry run) by the queue-triggered labeler.
    client = FakeDurableClient()
    newcomers = [i for i in corefx_issues if i.number > max(build_fixture(limit=FIXTURE).numbers)
                 and len(i.labels) == 1 and i.labels[0] in known][:48]
    truth: dict[int, str] = {}
    for issue in newcomers:
        number = server.open_issue(issue.title, issue.body)["number"]
        truth[number] = issue.labels[0]
        deliver(client, {"action": "opened", "issue": server.issue(number), "repository": {"full_name": REPO},
                         "sender": {"login": "reporter", "type": "User"}}, f"open-{number}")
    for message in s.queue.peek():
        user_function("label_issue")(func.QueueMessage(body=json.dumps(message).encode()))
    predictions = {p["number"]: p for p in s.docs.query("predictions", REPO)}
    assert set(predictions) == set(truth) and all(p["dry_run"] for p in predictions.values())

    # Maintainers apply the right label; where the labeler chose another one that is a correction.
    started_at: int | None = None
    for k, (number, label) in enumerate(sorted(truth.items()), start=1):
        deliver(client, {"action": "labeled", "label": {"name": label}, "issue": server.issue(number),
                         "repository": {"full_name": REPO}, "sender": {"login": "maintainer", "type": "User"}},
                f"label-{number}")
        if started_at is None and any(name == "training_orchestrator" for name, *_ in client.started):
            started_at = k
            client.running.add(f"train:{REPO}")  # the orchestration runs from here on
    verdicts = Counter(f["verdict"] for f in s.docs.query("feedback", REPO))
    assert verdicts["corrected"] >= 4 and verdicts["confirmed"] + verdicts["corrected"] == len(truth)
    assert started_at == RETRAIN_AFTER, "the retrain starts at the configured count, not before"
    (training,) = [call for call in client.started if call[0] == "training_orchestrator"]
    assert training[1:] == (f"train:{REPO}", {"repo": REPO, "reason": "feedback", "poll_seconds": 60.0,
                                              "deadline_minutes": 240.0})

    live = status()["live"]
    expected = verdicts["confirmed"] / (verdicts["confirmed"] + verdicts["corrected"])
    assert live["precision"] == pytest.approx(expected, abs=1e-4) and live["precision"] < 0.9
    raised = status()["tuning"]
    assert raised and all(change["new"] > change["old"] or change["paused"] for change in raised)
    worst = Counter(f["judged_label"] for f in s.docs.query("feedback", REPO) if f["verdict"] == "corrected")
    assert worst.most_common(1)[0][0] in {change["label"] for change in raised}

    # The retrain learns the maintainers' labels, holds recent ones out, and the gate scores both models on them.
    scrape_repository(s, REPO)
    second = train_and_announce(tmp_path, tiny_encoder, "m2")
    recent = load_split(s.blobs, REPO, second["dataset"], "recent")
    learned = {r["number"] for name in ("train", "validation") for r in load_split(s.blobs, REPO, second["dataset"], name)}
    assert len(recent) >= 10 and {r["number"] for r in recent} <= set(truth)
    assert (set(truth) - {r["number"] for r in recent}) <= learned  # corrected issues became training examples
    assert all(r["labels"] == [truth[r["number"]]] for r in recent)
    scores = second["recent_scores"]
    assert scores["candidate"]["n"] == scores["champion"]["n"] == len(recent)
    assert "recent issues" in second["reason"]
    assert s.docs.get("models", REPO, "m2")["recent_scores"] == scores
