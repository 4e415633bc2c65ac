"""Writing labels back to GitHub: one call, idempotent, dry run, comments, and never fighting a human."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.github_server import Fault, FixtureRepo, GitHubServer, build_fixture
from triage.adapters.github.client import GitHubClient
from triage.adapters.github.settings import GitHubSettings
from triage.adapters.local.queue import SqliteQueue
from triage.adapters.local.stores import SqliteDocumentStore
from triage.app.bootstrap import build_services
from triage.app.labeling import open_batch
from triage.app.repo_settings import load_repo_config
from triage.app.settings import Config, Settings
from triage.app.webhook import handle_delivery
from triage.app.writers import COMMENT_MARKER
from triage.domain.errors import GitHubError
from triage.domain.policy import Decision
from triage.domain.repo_config import RepoConfig, parse_repo_config
from triage.ml.model import Classifier

REPO = "dotnet/corefx"
BOT = "issue-triage[bot]"
SECRET = "webhook-secret-0123456789abcdef"
EAGER = RepoConfig(default_threshold=0.01, dry_run=False)  # label whenever allowed: stresses the rules


@pytest.fixture(scope="module")
def model(tiny_area_model: Path) -> Classifier:
    """A real (tiny) ONNX model over three corefx areas."""
    return Classifier.from_dir(tiny_area_model)


@pytest.fixture(scope="module")
def fixture() -> FixtureRepo:
    return build_fixture(limit=40)


@pytest.fixture()
def server(fixture: FixtureRepo) -> Iterator[GitHubServer]:
    with GitHubServer(fixture) as srv:
        srv.add_token("bot-token", BOT, actor_type="Bot")
        yield srv


@pytest.fixture()
def api(server: GitHubServer) -> GitHubClient:
    return GitHubClient(GitHubSettings(base_url=server.url, token="bot-token"), sleep=lambda _s: None)


@pytest.fixture()
def docs() -> SqliteDocumentStore:
    return SqliteDocumentStore(":memory:")


def handle_label_request(message: dict[str, Any], api: GitHubClient, docs: SqliteDocumentStore, model: Classifier,
                         config: RepoConfig, bot: str, dry_run: bool) -> Decision:
    """One label request through the labeling batch, with the repository config given."""
    home = Path(tempfile.mkdtemp(prefix="labeling-"))
    s = build_services(Config(settings=Settings(home=home, dry_run=dry_run, bot_login=bot)), docs=docs,
                       github=lambda: api)
    return open_batch(s, message["repo"], model, config=config, api=api, dry_run=dry_run).label(int(message["number"]))


def unlabeled_issue(server: GitHubServer) -> int:
    return server.open_issue("Socket.ConnectAsync hangs on Linux", "HttpClient never returns")["number"]


def request(number: int) -> dict[str, Any]:
    return {"repo": REPO, "number": number, "reason": "opened", "delivery": f"d-{number}"}


def label_posts(server: GitHubServer) -> int:
    return server.count("POST", r"/issues/\d+/labels$")


def test_adds_labels_with_one_call_and_is_idempotent(server, api, docs, model) -> None:
    number = unlabeled_issue(server)
    decision = handle_label_request(request(number), api, docs, model, EAGER, BOT, dry_run=False)
    assert len(decision.add) == 1 and label_posts(server) == 1
    assert server.issue(number)["labels"][0]["name"] == decision.add[0][0]
    events = server.events(number)
    assert events[-1]["actor"]["login"] == BOT and events[-1]["event"] == "labeled"
    again = handle_label_request(request(number), api, docs, model, EAGER, BOT, dry_run=False)
    assert [label for label, _ in again.add] == [label for label, _ in decision.add] and label_posts(server) == 1, (
        "re-processing the same request changes nothing")


def test_dry_run_logs_the_call_and_writes_nothing(server, api, docs, model, caplog) -> None:
    number = unlabeled_issue(server)
    with caplog.at_level(logging.INFO, logger="triage"):
        decision = handle_label_request(request(number), api, docs, model, EAGER, BOT, dry_run=True)
    assert decision.add and label_posts(server) == 0 and server.issue(number)["labels"] == []
    assert f"POST /repos/{REPO}/issues/{number}/labels" in caplog.text


def test_issue_labeled_by_a_human_is_left_alone(server, api, docs, model) -> None:
    number = unlabeled_issue(server)
    server.add_label(number, model.labels[0], "maintainer-a")
    decision = handle_label_request(request(number), api, docs, model, EAGER, BOT, dry_run=False)
    assert decision.abstained and "a human already applied" in decision.reasons[0]
    assert label_posts(server) == 0


def test_label_removed_by_a_human_is_not_re_added(server, api, docs, model) -> None:
    number = unlabeled_issue(server)
    first = handle_label_request(request(number), api, docs, model, EAGER, BOT, dry_run=False).add[0][0]
    server.remove_label(number, first, "maintainer-b")
    second = handle_label_request(request(number), api, docs, model, EAGER, BOT, dry_run=False)
    assert first not in [label for label, _ in second.add]
    assert any(f"{first} was removed by a human" in r for r in second.reasons)
    assert first not in [label["name"] for label in server.issue(number)["labels"]]


def test_closed_issues_and_pull_requests_are_skipped(server, api, docs, model) -> None:
    closed = unlabeled_issue(server)
    server.edit_issue(closed, state="closed")
    assert "closed" in handle_label_request(request(closed), api, docs, model, EAGER, BOT, False).reasons[0]
    pr = next(n for n in server.issue_numbers() if "pull_request" in server.issue(n))
    assert "pull requests" in handle_label_request(request(pr), api, docs, model, EAGER, BOT, False).reasons[0]
    assert label_posts(server) == 0


def test_comment_is_posted_once_and_edited_in_place(server, api, docs, model) -> None:
    number = unlabeled_issue(server)
    config = RepoConfig(default_threshold=0.999, dry_run=False, comment=True)  # abstain, but comment
    handle_label_request(request(number), api, docs, model, config, BOT, dry_run=False)
    mine = [c for c in server.comments(number) if COMMENT_MARKER in c["body"]]
    assert len(mine) == 1 and mine[0]["user"]["login"] == BOT and "%" in mine[0]["body"]
    handle_label_request(request(number), api, docs, model, config, BOT, dry_run=False)
    assert server.count("PATCH", r"/issues/comments/\d+$") == 0, "an unchanged comment is not rewritten"
    server.edit_issue(number, body="Completely different text about XML serialization and DataContract")
    eager_with_comment = RepoConfig(default_threshold=0.01, dry_run=False, comment=True)
    handle_label_request(request(number), api, docs, model, eager_with_comment, BOT, dry_run=False)
    mine = [c for c in server.comments(number) if COMMENT_MARKER in c["body"]]
    assert len(mine) == 1 and "Applied" in mine[0]["body"], "edited in place, never repeated"
    assert server.count("POST", r"/issues/\d+/comments$") == 1


@pytest.mark.parametrize("fault", [Fault.truncate(), Fault.drop(), Fault.status(502)], ids=["truncated", "dropped", "502"])
def test_one_comment_when_the_answer_to_its_post_is_lost(server, api, docs, model, fault) -> None:
    """GitHub creates the comment but the answer never arrives: the request fails, the queue retries it, and
    the retry finds the comment instead of posting a second one."""
    number = unlabeled_issue(server)
    config = RepoConfig(default_threshold=0.999, dry_run=False, comment=True)
    server.inject("POST", rf"/issues/{number}/comments$", fault)
    with pytest.raises(GitHubError):
        handle_label_request(request(number), api, docs, model, config, BOT, dry_run=False)
    for _ in range(2):  # the queue's retry, then a later request for the same issue
        handle_label_request(request(number), api, docs, model, config, BOT, dry_run=False)
    assert len([c for c in server.comments(number) if COMMENT_MARKER in c["body"]]) == 1


def test_repository_config_is_read_from_the_repository(server, api) -> None:
    assert load_repo_config(api, REPO) == RepoConfig()
    server.set_file(".github/issue-labeler.yml", "labels: {exclusive: ['area-*']}\nmax_labels: 2\n")
    assert load_repo_config(api, REPO) == parse_repo_config("labels: {exclusive: ['area-*']}\nmax_labels: 2\n")
    server.set_file(".github/issue-labeler.yml", "max_labels: many\n")
    with pytest.raises(Exception, match="dotnet/corefx:.github/issue-labeler.yml: max_labels"):
        load_repo_config(api, REPO)


def signed(event: str, payload: dict[str, Any], delivery: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature}, body


def test_stream_of_mixed_events_never_fights_a_human(server, api, docs, model) -> None:
    """>= 500 webhook deliveries: opened, edited, labeled and unlabeled by humans and bots, replays, retries."""
    rng = random.Random(20261124)
    queue = SqliteQueue(":memory:")
    labels = model.labels
    humans = ["maintainer-a", "maintainer-b", "octocat"]
    seen_events = {e["id"] for e in server.events()}
    deliveries: list[tuple[dict[str, str], bytes]] = []
    counter = {"n": 0}

    def deliver(event: str, payload: dict[str, Any], replay: bool = False) -> None:
        if replay and deliveries:
            headers, body = rng.choice(deliveries)
        else:
            counter["n"] += 1
            headers, body = signed(event, {**payload, "repository": {"full_name": REPO}}, f"delivery-{counter['n']}")
            deliveries.append((headers, body))
        assert handle_delivery(headers, body, SECRET, docs, queue, BOT).status in (200, 202)

    def forward_new_label_events() -> None:
        """GitHub sends a webhook for every label change, including the bot's own."""
        for event in server.events():
            if event["id"] in seen_events:
                continue
            seen_events.add(event["id"])
            number = event["issue"]["number"] if "issue" in event else _issue_of(server, event["id"])
            deliver("issues", {"action": event["event"], "issue": server.issue(number), "label": event["label"],
                               "sender": event["actor"]})

    def drain() -> None:
        while messages := queue.receive(10):
            for message in messages:
                handle_label_request(message.body, api, docs, model, EAGER, BOT, dry_run=False)
                if rng.random() < 0.1:  # the host retries a message now and then
                    handle_label_request(message.body, api, docs, model, EAGER, BOT, dry_run=False)
                queue.delete(message.id)
            forward_new_label_events()

    open_numbers = [n for n in server.issue_numbers() if server.issue(n)["state"] == "open"
                    and "pull_request" not in server.issue(n)]
    while counter["n"] < 520:
        kind = rng.choices(["open", "edit", "human_label", "human_unlabel", "other_bot", "replay"],
                           [3, 3, 2, 4, 1, 1])[0]
        number = rng.choice(open_numbers)
        if kind == "open":
            number = server.open_issue(f"Issue {counter['n']}: " + rng.choice(
                ["HttpClient timeout", "File.Move fails", "CI build broken", "Socket reset"]), "details")["number"]
            open_numbers.append(number)
            deliver("issues", {"action": "opened", "issue": server.issue(number),
                               "sender": {"login": "reporter", "type": "User"}})
        elif kind == "edit":
            server.edit_issue(number, body=f"more details {counter['n']}")
            deliver("issues", {"action": "edited", "issue": server.issue(number), "changes": {"body": {"from": "x"}},
                               "sender": {"login": "reporter", "type": "User"}})
        elif kind == "human_label":
            server.add_label(number, rng.choice(labels), rng.choice(humans))
        elif kind == "human_unlabel":
            current = [label["name"] for label in server.issue(number)["labels"]]
            if current:
                server.remove_label(number, rng.choice(current), rng.choice(humans))
        elif kind == "other_bot":
            server.add_label(number, "needs-triage", "dependabot[bot]", actor_type="Bot")
        else:
            deliver("issues", {}, replay=True)
        forward_new_label_events()
        drain()

    assert counter["n"] >= 500
    bot_events = _check_never_fought_a_human(server, set(labels))
    assert bot_events > 50, "the stream must exercise the labeler"
    assert queue.depth() == 0 and queue.depth(queue.poison_name) == 0


def _issue_of(server: GitHubServer, event_id: int) -> int:
    return next(n for n in server.issue_numbers() if any(e["id"] == event_id for e in server.events(n)))


def _check_never_fought_a_human(server: GitHubServer, model_labels: set[str]) -> int:
    """Replay every issue's events in order and check the labeler's writes against what humans did."""
    bot_writes = 0
    for number in server.issue_numbers():
        removed_by_human: set[str] = set()
        human_applied: set[str] = set()
        present: set[str] = {label["name"] for label in server.fixture.issues.get(number, {}).get("labels", [])}
        human_applied |= present & model_labels
        for event in sorted(server.events(number), key=lambda e: e["id"]):
            if event["event"] not in ("labeled", "unlabeled"):
                continue  # closed, reopened, assigned, renamed...
            label, actor = event["label"]["name"], event["actor"]
            by_product = actor["login"] == BOT
            if event["event"] == "labeled":
                if by_product:
                    bot_writes += 1
                    assert label not in removed_by_human, f"#{number}: re-added {label} after a human removed it"
                    assert not human_applied & present, f"#{number}: labeled an issue a human had labeled"
                    assert not present & model_labels, f"#{number}: stacked a second exclusive label"
                elif actor["type"] == "User":
                    removed_by_human.discard(label)
                    if label in model_labels:
                        human_applied.add(label)
                present.add(label)
            else:
                assert not by_product, f"#{number}: the labeler removed {label}"
                if actor["type"] == "User":
                    removed_by_human.add(label)
                    human_applied.discard(label)
                present.discard(label)
    return bot_writes
