"""End to end through the Function app: signed webhook → HTTP function → Azurite queue → labeler
function → labels on the GitHub test server via PyGithub → prediction in the Cosmos emulator → /api/status."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from functions import _runtime
from tests.conftest import user_function
from tests.durable_double import FakeDurableClient, call_with_client
from tests.emulators.fixtures import Azurite, Cosmos
from tests.github_server import GitHubServer, build_fixture
from tests.integration.test_training_job import three_areas, tiny_config, write_dataset
from training_job.train import run
from triage.domain.issues import Issue
from triage.learning.registry import upload_model, write_pointer
from triage.ports.queues import LABEL_REQUESTS

REPO = "dotnet/corefx"
BOT = "issue-triage[bot]"
SECRET = "e2e-secret-0123456789abcdef"


@pytest.fixture()
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, azurite: Azurite, cosmos: Cosmos) -> Iterator[GitHubServer]:
    with GitHubServer(build_fixture(limit=30)) as server:
        server.add_token("bot-token", BOT, actor_type="Bot")
        server.set_file(".github/issue-labeler.yml", "dry_run: false\nthresholds: {default: 0.01}\n")
        settings = {
            "TRIAGE_HOME": str(tmp_path), "TRIAGE_STORAGE": azurite.connection_string,
            "TRIAGE_COSMOS": cosmos.connection_string, "TRIAGE_COSMOS_ENDPOINT_DISCOVERY": "false",
            "TRIAGE_WEBHOOK_SECRET": SECRET, "TRIAGE_DRY_RUN": "false", "TRIAGE_REPOSITORIES": REPO,
            "GITHUB_API_URL": server.url, "GITHUB_TOKEN": "bot-token", "TRIAGE_BOT_LOGIN": BOT,
        }
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
        _runtime.services.cache_clear()
        _runtime.model_cache.cache_clear()
        yield server
        _runtime.services.cache_clear()
        _runtime.model_cache.cache_clear()


def promote_tiny_model(tmp_path: Path, corefx_issues: list[Issue], encoder: Path) -> str:
    write_dataset(tmp_path / "ds", three_areas(corefx_issues, 20), test_fraction=0.2, validation_fraction=0.2)
    run(tiny_config(tmp_path / "ds", tmp_path / "model", encoder))
    s = _runtime.services()
    manifest = upload_model(s.blobs, s.docs, tmp_path / "model")
    write_pointer(s.blobs, REPO, manifest["version"], None, None, "e2e")
    return str(manifest["version"])


def test_webhook_to_labels_to_status(app_env: GitHubServer, tmp_path: Path, azurite: Azurite,
                                     corefx_issues: list[Issue], tiny_encoder: Path) -> None:
    server = app_env
    version = promote_tiny_model(tmp_path, corefx_issues, tiny_encoder)
    number = server.open_issue("SslStream handshake fails on Linux", "HttpClient throws AuthenticationException")["number"]

    body = json.dumps({"action": "opened", "issue": server.issue(number), "repository": {"full_name": REPO},
                       "sender": {"login": "reporter", "type": "User"}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = func.HttpRequest("POST", "/api/github/webhook", body=body, headers={
        "X-GitHub-Event": "issues", "X-GitHub-Delivery": "e2e-1", "X-Hub-Signature-256": signature})
    response = call_with_client("github_webhook", FakeDurableClient(), req=request)
    assert response.status_code == 200

    # The message is really in Azurite, encoded as the Functions host expects.
    queue = QueueClient.from_connection_string(azurite.connection_string, LABEL_REQUESTS,
                                               message_decode_policy=TextBase64DecodePolicy())
    (message,) = list(queue.receive_messages(max_messages=5))
    assert json.loads(message.content)["number"] == number
    user_function("label_issue")(func.QueueMessage(id=message.id, body=message.content.encode()))
    queue.delete_message(message)

    labels = [label["name"] for label in server.issue(number)["labels"]]
    assert len(labels) == 1 and server.events(number)[-1]["actor"]["login"] == BOT
    assert server.count("POST", rf"/issues/{number}/labels$") == 1

    docs = _runtime.services().docs
    (prediction,) = docs.query("predictions", REPO, number=number)
    assert prediction["model_version"] == version and prediction["add"][0]["label"] == labels[0]
    assert prediction["dry_run"] is False

    status = json.loads(user_function("status")(func.HttpRequest("GET", "/api/status", body=b"")).get_body())
    repo = status["repositories"][REPO]
    assert repo["model"]["version"] == version
    assert repo["recent_decisions"][0]["number"] == number
    assert status["queue"] == {"depth": 0, "poison": 0}
