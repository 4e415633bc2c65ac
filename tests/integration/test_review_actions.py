"""Through the Function app, against GitHub's REST API on the loopback server: the review queue acts on GitHub
(issue #15 item 7) and the abstain label comes and goes with the humans' labels (item 3).

Signed deliveries go to the registered ``github_webhook`` function, label requests from the embedded queue to
``label_issue``, the maintainer's forms to ``dashboard_review``, all with real ``azure.functions`` objects; the
labels land on the loopback GitHub through the product's own REST client. The model is a tiny one, trained
and promoted for real.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import azure.functions as func
import pytest

from functions import _runtime
from tests.conftest import user_function
from tests.durable_double import FakeDurableClient, call_with_client
from tests.github_server import GitHubServer, build_fixture
from triage.app.abstain import applied_markers
from triage.domain.issues import Issue
from triage.learning.registry import read_pointer, upload_model, write_pointer
from triage.ports.layout import model_prefix
from triage.ports.records import FEEDBACK, LOCKS, PREDICTIONS
from triage.web.throttle import LOGIN_THROTTLE

REPO = "dotnet/corefx"
BOT = "issue-triage[bot]"
SECRET = "review-secret-0123456789abcdef"
TOKEN = "review-dashboard-token-0123456789"
BASE = "http://localhost:7071/api/dashboard"
EAGER = "dry_run: false\nthresholds: {default: 0.01}\n"
NEEDS = "needs-area-label"


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_area_model: Path) -> Iterator[GitHubServer]:
    with GitHubServer(build_fixture(limit=30)) as srv:
        srv.add_token("bot-token", BOT, actor_type="Bot")
        srv.set_file(".github/issue-triage.yml", EAGER)
        for key in ("TRIAGE_STORAGE", "TRIAGE_COSMOS", "TRIAGE_DASHBOARD_AUTH", "TRIAGE_DASHBOARD_SECRET",
                    "TRIAGE_AUTO_TUNE", "WEBSITE_AUTH_ENABLED", "TRIAGE_LABEL_DELAY_SECONDS"):
            monkeypatch.delenv(key, raising=False)
        for key, value in {"TRIAGE_HOME": str(tmp_path), "TRIAGE_WEBHOOK_SECRET": SECRET, "TRIAGE_DRY_RUN": "false",
                           "TRIAGE_REPOSITORIES": REPO, "GITHUB_API_URL": srv.url, "GITHUB_TOKEN": "bot-token",
                           "TRIAGE_BOT_LOGIN": BOT, "TRIAGE_DASHBOARD_TOKEN": TOKEN,
                           "TRIAGE_RETRAIN_AFTER": "1000"}.items():
            monkeypatch.setenv(key, value)
        restart()
        s = _runtime.services()
        manifest = upload_model(s.blobs, s.docs, tiny_area_model)
        write_pointer(s.blobs, REPO, manifest["version"], None, None, "review tests")
        LOGIN_THROTTLE.reset()
        yield srv
        restart()


def restart() -> None:
    """A new host: settings are read again."""
    _runtime.services.cache_clear()
    _runtime.model_cache.cache_clear()


def webhook(payload: dict[str, Any], event: str = "issues") -> func.HttpResponse:
    body = json.dumps({**payload, "repository": {"full_name": REPO}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = func.HttpRequest("POST", "/api/github/webhook", body=body, headers={
        "X-GitHub-Event": event, "X-GitHub-Delivery": hashlib.sha1(body).hexdigest(), "X-Hub-Signature-256": signature})
    response = call_with_client("github_webhook", FakeDurableClient(), req=request)
    assert response.status_code in (200, 202), response.get_body()
    return response


def drain() -> int:
    """Run ``label_issue`` on every queued request, as the host would; returns how many."""
    queue, done = _runtime.services().queue, 0
    while messages := queue.receive(10):  # type: ignore[attr-defined]
        for message in messages:
            user_function("label_issue")(func.QueueMessage(id=message.id, body=json.dumps(message.body).encode()))
            queue.delete(message.id)  # type: ignore[attr-defined]
            done += 1
    return done


def opened(server: GitHubServer, title: str = "SslStream handshake fails on Linux",
           body: str = "HttpClient throws AuthenticationException") -> int:
    number = server.open_issue(title, body)["number"]
    webhook({"action": "opened", "issue": server.issue(number), "sender": {"login": "reporter", "type": "User"}})
    assert drain() == 1
    return number


def human_labeled(server: GitHubServer, number: int, label: str, action: str = "labeled") -> None:
    """A maintainer changes a label on GitHub, and GitHub delivers the webhook."""
    (server.add_label if action == "labeled" else server.remove_label)(number, label, "maintainer-a")
    webhook({"action": action, "issue": server.issue(number), "label": {"name": label},
             "sender": {"login": "maintainer-a", "type": "User"}})


def labels(server: GitHubServer, number: int) -> list[str]:
    return [label["name"] for label in server.issue(number)["labels"]]


def session() -> dict[str, str]:
    response = user_function("dashboard")(func.HttpRequest("GET", BASE, params={"token": TOKEN}, body=b""))
    assert response.status_code == 303, response.get_body()
    return {"Cookie": response.headers["Set-Cookie"].split(";")[0]}


def page(cookie: dict[str, str], query: dict[str, str] | None = None) -> str:
    response = user_function("dashboard")(func.HttpRequest("GET", BASE, params={"repo": REPO, **(query or {})},
                                                           headers=cookie, body=b""))
    assert response.status_code == 200
    return response.get_body().decode()


def verdict(cookie: dict[str, str], number: int, label: str, choice: str) -> func.HttpResponse:
    csrf = re.search(r'name="csrf" value="([^"]+)"', page(cookie))
    assert csrf, "the review queue has no form"
    fields = {"repo": REPO, "number": str(number), "label": label, "verdict": choice, "csrf": csrf.group(1)}
    request = func.HttpRequest("POST", f"{BASE}/review", body=urlencode(fields).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Host": "localhost:7071", **cookie})
    return call_with_client("dashboard_review", FakeDurableClient(), req=request)


def review_row(html: str, number: int) -> str:
    rows = re.findall(r"<tr><td>#(\d+)</td>(.*?)</tr>", html.split('id="review"')[1].split("</section>")[0])
    return next(row for n, row in rows if int(n) == number)


def predicted(number: int) -> str:
    (p,) = [p for p in _runtime.services().docs.query(PREDICTIONS, REPO, number=number) if p["add"]]
    return str(p["add"][0]["label"])


def feedback(number: int) -> list[tuple[str, str, str]]:
    return [(f["verdict"], f["label"], f["source"]) for f in
            sorted(_runtime.services().docs.query(FEEDBACK, REPO, number=number), key=lambda f: f["recorded_at"])]


# --- item 7: Reject removes the bot's label; Apply on GitHub writes a dry-run prediction -------------------------

def test_reject_removes_the_bots_label_and_it_is_never_put_back(server: GitHubServer) -> None:
    server.reset_log()
    number = opened(server)
    label = predicted(number)
    assert labels(server, number) == [label]
    assert (server.count("GET"), server.count("POST"), len(server.requests)) == (3, 1, 4), "3 reads + 1 write"
    print(f"\nGitHub requests for one labeled issue: {server.count('GET')} reads + {server.count('POST')} write")
    cookie = session()
    assert "Apply on GitHub" not in review_row(page(cookie), number), "the label is on GitHub already"
    response = verdict(cookie, number, label, "reject")
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.headers["Location"]).query)["done"] == ["removed"]
    assert labels(server, number) == [] and server.count("DELETE", rf"/issues/{number}/labels/") == 1
    assert server.events(number)[-1]["event"] == "unlabeled" and server.events(number)[-1]["actor"]["login"] == BOT
    assert feedback(number) == [("corrected", label, "review")]
    notice = page(cookie, {"done": "removed", "issue": str(number)})
    assert f"#{number}: rejected, and the bot&#x27;s label was removed from GitHub." in notice

    server.edit_issue(number, body="HttpClient throws AuthenticationException, again")
    webhook({"action": "edited", "issue": server.issue(number), "changes": {"body": {"from": "x"}},
             "sender": {"login": "reporter", "type": "User"}})
    drain()
    assert label not in labels(server, number), "a label the maintainer rejected is a human removal: never re-added"


def test_reject_refuses_when_a_human_already_removed_or_reapplied_it(server: GitHubServer) -> None:
    removed, reapplied = opened(server), opened(server, "Socket.ConnectAsync hangs", "Sockets on Linux")
    cookie = session()
    page(cookie)  # the maintainer's page is open while humans act on GitHub (their webhooks not yet delivered)
    server.remove_label(removed, predicted(removed), "maintainer-b")
    server.remove_label(reapplied, predicted(reapplied), "maintainer-b")
    server.add_label(reapplied, predicted(reapplied), "maintainer-b")
    deletes = server.count("DELETE")
    first = verdict(cookie, removed, predicted(removed), "reject")
    assert first.status_code == 409 and "a human already removed" in first.get_body().decode()
    second = verdict(cookie, reapplied, predicted(reapplied), "reject")
    assert second.status_code == 409 and "applied by a human" in second.get_body().decode()
    assert "Back to the review queue" in second.get_body().decode()
    assert server.count("DELETE") == deletes and labels(server, reapplied) == [predicted(reapplied)]
    assert feedback(removed) == feedback(reapplied) == [], "a refused verdict records nothing"


def test_apply_on_github_writes_a_dry_run_prediction(server: GitHubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_DRY_RUN", "true")
    restart()
    number = opened(server)
    label = predicted(number)
    assert labels(server, number) == [] and server.count("POST", r"/labels$") == 0
    cookie = session()
    assert "Apply on GitHub" in review_row(page(cookie), number)
    response = verdict(cookie, number, label, "apply")
    assert response.status_code == 303, response.get_body()
    assert labels(server, number) == [label] and server.events(number)[-1]["actor"]["login"] == BOT
    (record,) = [p for p in _runtime.services().docs.query(PREDICTIONS, REPO, number=number) if p["add"]]
    assert record["applied"] is True and feedback(number) == [("confirmed", label, "review")]
    assert f"#{number}" not in page(cookie).split('id="review"')[1].split("</section>")[0], "judged: out of the queue"


def test_apply_respects_the_humans(server: GitHubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_DRY_RUN", "true")
    restart()
    other, removed = opened(server), opened(server, "Socket.ConnectAsync hangs", "Sockets on Linux")
    cookie = session()
    page(cookie)
    rival = next(a for a in model_labels() if a != predicted(other))
    server.add_label(other, rival, "maintainer-b")  # a human labeled the issue meanwhile
    server.add_label(removed, predicted(removed), "maintainer-b")
    server.remove_label(removed, predicted(removed), "maintainer-b")  # ... and a human removed this label
    posts = server.count("POST", r"/labels$")
    first = verdict(cookie, other, predicted(other), "apply")
    assert first.status_code == 409 and f"a human already labeled #{other} with {rival}" in first.get_body().decode()
    second = verdict(cookie, removed, predicted(removed), "apply")
    assert second.status_code == 409 and "never puts it back" in second.get_body().decode()
    assert server.count("POST", r"/labels$") == posts and labels(server, other) == [rival]


def model_labels() -> list[str]:
    """The labels of the promoted model."""
    s = _runtime.services()
    pointer, _ = read_pointer(s.blobs, REPO)
    assert pointer is not None
    return list(json.loads(s.blobs.get(f"{model_prefix(REPO, pointer['version'])}/manifest.json"))["labels"])


def test_reject_in_dry_run_records_the_correction_without_a_github_request(server: GitHubServer,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_DRY_RUN", "true")
    restart()
    number = opened(server)
    before = len(server.requests)
    response = verdict(session(), number, predicted(number), "reject")
    assert response.status_code == 303 and parse_qs(urlsplit(response.headers["Location"]).query)["done"] == ["rejected"]
    assert len(server.requests) == before and feedback(number) == [("corrected", predicted(number), "review")]
    assert [lock["state"] for lock in _runtime.services().docs.query(LOCKS, REPO, number=number)] == ["removed"]


def test_reject_of_a_written_label_while_the_app_is_in_dry_run_only_shows_the_call(
        server: GitHubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    number = opened(server)
    label = predicted(number)
    monkeypatch.setenv("TRIAGE_DRY_RUN", "true")
    restart()
    response = verdict(session(), number, label, "reject")
    assert parse_qs(urlsplit(response.headers["Location"]).query)["done"] == ["would-remove"]
    assert labels(server, number) == [label] and server.count("DELETE") == 0


# --- item 3: the abstain label, end to end ---------------------------------------------------------------------

def test_abstain_label_applied_then_taken_back_when_a_human_labels_the_group(server: GitHubServer) -> None:
    server.set_file(".github/issue-triage.yml", f"dry_run: false\nthresholds: {{default: 0.999}}\n"
                                                f"abstain_label: {NEEDS}\n")
    server.reset_log()
    number = opened(server)
    assert labels(server, number) == [NEEDS] and applied_markers(_runtime.services().docs, REPO, number) == [NEEDS]
    writes = server.count("POST") + server.count("DELETE")
    reads = server.count("GET")
    assert writes == 1, "the abstain label costs one request"
    print(f"\nGitHub requests for one abstained issue: {reads} reads + {writes} write")

    human_labeled(server, number, "documentation")  # not one of the model's labels: the abstain label stays
    drain()
    assert NEEDS in labels(server, number)
    area = model_labels()[0]
    human_labeled(server, number, area)
    server.reset_log()
    assert drain() == 1
    reads, deletes = server.count("GET"), server.count("DELETE")
    assert (deletes, server.count("POST")) == (1, 0)
    print(f"GitHub requests to take the abstain label back: {reads} reads + {deletes} write")
    assert sorted(labels(server, number)) == sorted(["documentation", area])
    assert server.events(number)[-1]["event"] == "unlabeled" and server.events(number)[-1]["actor"]["login"] == BOT

    again = opened(server, "Another odd one", "nothing to go on")
    human_labeled(server, again, NEEDS, "unlabeled")  # a human takes it off: never put back
    server.edit_issue(again, body="still nothing")
    webhook({"action": "reopened", "issue": server.issue(again), "sender": {"login": "reporter", "type": "User"}})
    drain()
    assert NEEDS not in labels(server, again)


def test_abstain_label_in_dry_run_is_only_shown(server: GitHubServer, caplog: pytest.LogCaptureFixture) -> None:
    server.set_file(".github/issue-triage.yml", f"thresholds: {{default: 0.999}}\nabstain_label: {NEEDS}\n")
    with caplog.at_level("INFO", logger="triage"):
        number = opened(server)
    assert labels(server, number) == [] and server.count("POST", r"/labels$") == 0
    assert f"POST /repos/{REPO}/issues/{number}/labels {json.dumps({'labels': [NEEDS]})}" in caplog.text


# --- item 5: humans first, and edits ---------------------------------------------------------------------------

def test_a_delayed_request_leaves_the_issue_to_a_human_who_labeled_it(server: GitHubServer,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_LABEL_DELAY_SECONDS", "300")
    restart()
    quick, slow = (server.open_issue(t, "HttpClient throws")["number"] for t in ("SslStream fails", "Socket fails"))
    for number in (quick, slow):
        webhook({"action": "opened", "issue": server.issue(number), "sender": {"login": "reporter", "type": "User"}})
    queue = _runtime.services().queue
    assert queue.depth() == 2 and queue.receive(10) == [], "invisible for the delay"  # type: ignore[attr-defined]
    bodies = queue.peek()  # type: ignore[attr-defined]
    assert [b["delay"] for b in bodies] == [300, 300]
    server.add_label(slow, model_labels()[0], "maintainer-a")  # a human triaged it during the delay
    for body in bodies:  # the host delivers them once the delay is over
        user_function("label_issue")(func.QueueMessage(id=str(body["number"]), body=json.dumps(body).encode()))
    assert len(labels(server, quick)) == 1 and server.events(quick)[-1]["actor"]["login"] == BOT
    assert labels(server, slow) == [model_labels()[0]] and server.count("POST", rf"/issues/{slow}/labels$") == 0
    (record,) = _runtime.services().docs.query(PREDICTIONS, REPO, number=slow)
    assert record["kind"] == "humans-first" and "a human labeled the issue" in record["reasons"][0]


def test_an_edit_swaps_the_bots_label_when_the_prediction_changes(server: GitHubServer, tiny_area_model: Path,
                                                                  corefx_issues: list[Issue]) -> None:
    from triage.ml.model import Classifier

    server.set_file(".github/issue-triage.yml", EAGER + "relabel_on_edit: true\n")
    classifier = Classifier.from_dir(tiny_area_model)

    def best(title: str, body: str) -> str:
        return max(classifier.scores(title, body).items(), key=lambda item: item[1])[0]

    number, touched = opened(server), opened(server)
    first, theirs = predicted(number), predicted(touched)
    other = next(i for i in corefx_issues if best(i.title, i.body) not in (first, theirs))
    human_labeled(server, touched, theirs, "unlabeled")
    human_labeled(server, touched, theirs)  # a maintainer removed and re-applied it: theirs now
    for n in (number, touched):
        server.edit_issue(n, title=other.title, body=other.body)
        webhook({"action": "edited", "issue": server.issue(n), "changes": {"title": {"from": "x"}},
                 "sender": {"login": "reporter", "type": "User"}})
    assert drain() == 2
    assert labels(server, number) == [best(other.title, other.body)]
    assert [e["event"] for e in server.events(number)[-2:]] == ["labeled", "unlabeled"]
    assert all(e["actor"]["login"] == BOT for e in server.events(number)[-2:])
    assert labels(server, touched) == [theirs]
    assert server.count("DELETE", rf"/issues/{touched}/labels/") == 0, "a human's label is never taken away"


def test_the_azure_queue_hides_a_delayed_message(azurite: Any) -> None:
    from azure.storage.queue import QueueClient

    from triage.adapters.azure.queues import AzureQueue

    queue = AzureQueue.from_connection_string(azurite.connection_string, "delay-check")
    queue.send({"n": 1}, delay_seconds=600)
    queue.send({"n": 2})
    client = QueueClient.from_connection_string(azurite.connection_string, "delay-check")
    try:
        seen = [json.loads(base64.b64decode(m.content)) for m in client.receive_messages(max_messages=5)]
        assert seen == [{"n": 2}] and queue.depth() == 2
    finally:
        client.delete_queue()
        queue.close()


@pytest.mark.parametrize("query", [{"done": "<b>pwned</b>", "issue": "1"}, {"done": "removed", "issue": "1<b>"},
                                   {"done": "removed", "issue": "9" * 12}, {"done": "removed"}])
def test_the_notice_comes_from_a_fixed_list_never_from_the_request(server: GitHubServer, query: dict[str, str]) -> None:
    opened(server)
    html = page(session(), query)
    assert 'id="review-notice"' not in html and "pwned" not in html
