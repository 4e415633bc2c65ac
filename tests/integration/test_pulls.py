"""Pull requests end to end through the Function app: a signed ``pull_request`` delivery → the registered webhook
function → the label-requests queue → the registered labeler function → labels on the pull request on the
GitHub test server (its changed files read with ``GET /pulls/{n}/files``), with the requests each one costs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from functions import _runtime
from tests.conftest import user_function
from tests.durable_double import FakeDurableClient, call_with_client
from tests.github_server import GitHubServer, build_fixture
from triage.adapters.github.client import GitHubClient
from triage.adapters.github.settings import GitHubSettings
from triage.learning.registry import upload_model, write_pointer
from triage.ml.model import Classifier

REPO = "dotnet/corefx"
BOT = "issue-triage[bot]"
SECRET = "pulls-secret-0123456789abcdef"
CONFIG = """\
dry_run: false
pull_requests: true
thresholds: {default: 0.01}
paths:
  area-System.IO: ["src/System.IO*/**"]
  area-Infrastructure: ["/eng/**", "*.proj"]
"""
# What labeling one pull request costs on GitHub: the repository config, the pull request (issues API), its
# events, its changed files (one page), and the one POST that adds the label.
REQUESTS_PER_LABELED_PR = 5


@pytest.fixture()
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_area_model: Path) -> Iterator[GitHubServer]:
    with GitHubServer(build_fixture(limit=30)) as server:
        server.add_token("bot-token", BOT, actor_type="Bot")
        server.set_file(".github/issue-triage.yml", CONFIG)
        for key, value in {"TRIAGE_HOME": str(tmp_path), "TRIAGE_WEBHOOK_SECRET": SECRET, "TRIAGE_DRY_RUN": "false",
                           "TRIAGE_REPOSITORIES": REPO, "GITHUB_API_URL": server.url, "GITHUB_TOKEN": "bot-token",
                           "TRIAGE_BOT_LOGIN": BOT, "TRIAGE_LABEL_DELAY_SECONDS": "0"}.items():
            monkeypatch.setenv(key, value)
        _runtime.services.cache_clear()
        _runtime.model_cache.cache_clear()
        s = _runtime.services()
        manifest = upload_model(s.blobs, s.docs, tiny_area_model)
        write_pointer(s.blobs, REPO, manifest["version"], None, None, "pulls")
        yield server
        _runtime.services.cache_clear()
        _runtime.model_cache.cache_clear()


def deliver(server: GitHubServer, action: str, number: int, delivery: str, **extra: Any) -> func.HttpResponse:
    """A signed ``pull_request`` delivery of ``action`` for ``number`` to the registered webhook function."""
    item = server.issue(number)
    pr = {"number": number, "title": item["title"], "body": item["body"], "state": "open", "draft": item["draft"],
          "updated_at": item["updated_at"], "user": item["user"]}
    body = json.dumps({"action": action, "number": number, "pull_request": pr, "repository": {"full_name": REPO},
                       "sender": {"login": item["user"]["login"], "type": "User"}, **extra}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = func.HttpRequest("POST", "/api/github/webhook", body=body, headers={
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature})
    return call_with_client("github_webhook", FakeDurableClient(), req=request)


def run_labeler() -> list[dict[str, Any]]:
    """Hand every queued label request to the registered labeler function; return the requests."""
    queue = _runtime.services().queue
    handled = []
    for message in queue.receive(max_messages=10):
        user_function("label_issue")(func.QueueMessage(id=message.id, body=json.dumps(message.body).encode()))
        queue.delete(message.id)
        handled.append(message.body)
    return handled


def labels(server: GitHubServer, number: int) -> list[str]:
    return [label["name"] for label in server.issue(number)["labels"]]


def prediction(number: int) -> dict[str, Any]:
    (found,) = _runtime.services().docs.query("predictions", REPO, number=number)
    return found


def test_a_path_rule_labels_a_pull_request_through_the_function_app(app: GitHubServer) -> None:
    renamed = ("src/System.IO.FileSystem/tests/New.cs", "src/System.IO.FileSystem/tests/Old.cs")
    number = app.open_pull_request("Fix a race when the watcher restarts", "Restarting could drop events.",
                                   files=["src/System.IO.FileSystem.Watcher/src/Watcher.cs", renamed])["number"]
    assert deliver(app, "opened", number, "pr-1").status_code == 200
    app.reset_log()
    assert [m["reason"] for m in run_labeler()] == ["opened"]
    assert labels(app, number) == ["area-System.IO"] and app.events(number)[-1]["actor"]["login"] == BOT
    reasons = prediction(number)["reasons"]
    assert ("area-System.IO: path rule 'src/System.IO*/**' matches 'src/System.IO.FileSystem.Watcher/src/Watcher.cs'"
            in reasons)
    assert app.count("GET", rf"/pulls/{number}/files$") == 1 and app.requests[-1].path.endswith("/labels")
    assert len(app.requests) == REQUESTS_PER_LABELED_PR, [(r.method, r.path) for r in app.requests]


def test_the_model_labels_a_pull_request_no_rule_matches_and_reads_its_files(app: GitHubServer,
                                                                            tiny_area_model: Path) -> None:
    title, body = "HttpClient: honor the proxy for https requests", "Sockets were opened directly."
    number = app.open_pull_request(title, body, files=["src/System.Net.Http/src/HttpClientHandler.cs"])["number"]
    assert deliver(app, "opened", number, "pr-2").status_code == 200
    run_labeler()
    (added,) = labels(app, number)
    assert not any("path rule" in reason for reason in prediction(number)["reasons"])
    model = Classifier.from_dir(tiny_area_model)
    scored = model.scores(title, "files: src System.Net.Http HttpClientHandler.cs\n\n" + body)
    assert added == next(iter(scored)) and prediction(number)["add"][0]["score"] == round(scored[added], 4), (
        "the labeler scored the title, the files line and the body")


def test_a_draft_is_ignored_then_labeled_when_ready_for_review(app: GitHubServer) -> None:
    number = app.open_pull_request("Port the build to the new SDK", files=["eng/common/build.sh"], draft=True)["number"]
    response = deliver(app, "opened", number, "pr-3")
    assert response.status_code == 202 and b"ready for review" in response.get_body()
    assert run_labeler() == [] and labels(app, number) == []
    app.ready_for_review(number)
    assert deliver(app, "ready_for_review", number, "pr-4").status_code == 200
    assert [m["reason"] for m in run_labeler()] == ["ready_for_review"]
    assert labels(app, number) == ["area-Infrastructure"]


def test_a_label_a_human_removed_is_never_re_applied(app: GitHubServer) -> None:
    number = app.open_pull_request("Update the proj files", files=["src/dirs.proj"])["number"]
    deliver(app, "opened", number, "pr-5")
    run_labeler()
    assert labels(app, number) == ["area-Infrastructure"]
    app.remove_label(number, "area-Infrastructure", "maintainer-a")
    unlabeled = deliver(app, "unlabeled", number, "pr-6", label={"name": "area-Infrastructure"})
    assert unlabeled.status_code == 200 and b"feedback" in unlabeled.get_body()
    app.edit_issue(number, body="Also the tests")
    assert deliver(app, "edited", number, "pr-7", changes={"body": {"from": ""}}).status_code == 200
    run_labeler()
    assert "area-Infrastructure" not in labels(app, number)
    assert app.count("POST", rf"/issues/{number}/labels$") <= 2  # never the removed label again
    assert all(r.body != {"labels": ["area-Infrastructure"]} for r in app.find("POST", rf"/issues/{number}/labels$")[1:])


def test_dry_run_records_the_exact_calls_and_writes_nothing(app: GitHubServer, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("TRIAGE_DRY_RUN", "true")
    _runtime.services.cache_clear()
    number = app.open_pull_request("Fix the watcher", files=["src/System.IO.FileSystem/src/File.cs"])["number"]
    deliver(app, "opened", number, "pr-8")
    with caplog.at_level(logging.INFO, logger="triage"):
        run_labeler()
    assert labels(app, number) == [] and app.count("POST", r"/labels$") == 0
    assert f"POST /repos/{REPO}/issues/{number}/labels" in caplog.text and "area-System.IO" in caplog.text
    assert prediction(number)["dry_run"] is True


def test_pull_files_pages_and_gives_renamed_files_previous_names(app: GitHubServer) -> None:
    files = [f"src/lib/f{i:04}.cs" for i in range(250)] + [("src/new.cs", "src/old.cs")]
    number = app.open_pull_request("Many files", files=files)["number"]
    client = GitHubClient(GitHubSettings(base_url=app.url, token="bot-token"), sleep=lambda _s: None)
    app.reset_log()
    got = client.pull_files(REPO, number)
    assert got == [f for f in files if isinstance(f, str)] + ["src/new.cs", "src/old.cs"]
    assert app.count("GET", rf"/pulls/{number}/files$") == 3  # 251 files, 100 a page
    issue = next(n for n in app.issue_numbers() if "pull_request" not in app.issue(n))
    with pytest.raises(Exception, match="404"):
        client.pull_files(REPO, issue)
    app.transfer_issue(issue, "dotnet/other")  # an issue number that moved: still no pull request there
    with pytest.raises(Exception, match="404"):
        client.pull_files(REPO, issue)
    assert app.errors == []


def test_the_scraper_keeps_pull_requests_files_with_one_request_each_and_training_reads_them(
        app: GitHubServer, tmp_path: Path) -> None:
    from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
    from triage.data.dataset import DatasetSpec, build_dataset
    from triage.data.ingest import iter_issues
    from triage.data.scraper import scrape

    number = app.open_pull_request("Fix the watcher", files=["src/System.IO.FileSystem/src/File.cs"])["number"]
    app.add_label(number, "area-System.IO", "maintainer-a")
    pulls = [n for n in app.issue_numbers() if "pull_request" in app.issue(n)]
    client = GitHubClient(GitHubSettings(base_url=app.url, token="bot-token"), sleep=lambda _s: None)
    docs, blobs = SqliteDocumentStore(":memory:"), LocalBlobStore(tmp_path / "blobs")
    app.reset_log()
    first = scrape(client, docs, blobs, REPO, include_pull_requests=True)
    assert first.file_requests == len(pulls) == app.count("GET", r"/pulls/\d+/files$") and len(pulls) >= 2
    stored = {i.number: i for i in iter_issues(docs, REPO)}
    assert stored[number].paths == ("src/System.IO.FileSystem/src/File.cs",)
    app.add_comment(pulls[0], "a comment moves updated_at")
    again = scrape(client, docs, blobs, REPO, include_pull_requests=True)
    assert again.file_requests == 1, "only the changed pull request's files are read again"
    assert {i.number: i.paths for i in iter_issues(docs, REPO)}[number] == stored[number].paths
    rows = build_dataset(list(iter_issues(docs, REPO)), DatasetSpec(include_pull_requests=True, min_examples=1))
    texts = [row["text"] for split in rows.splits.values() for row in split if row["number"] == number]
    assert texts and texts[0] == "Fix the watcher\n\nfiles: src System.IO.FileSystem File.cs"


def test_without_pull_requests_true_a_pull_request_is_skipped_and_its_files_never_read(app: GitHubServer) -> None:
    app.set_file(".github/issue-triage.yml", CONFIG.replace("pull_requests: true", "pull_requests: false"))
    number = app.open_pull_request("Fix the watcher", files=["src/System.IO.FileSystem/src/File.cs"])["number"]
    deliver(app, "opened", number, "pr-9")
    app.reset_log()
    run_labeler()
    assert labels(app, number) == [] and app.count("GET", r"/pulls/") == 0 and len(app.requests) == 3
    assert prediction(number)["reasons"] == ["pull requests are not labeled (pull_requests: false)"]
