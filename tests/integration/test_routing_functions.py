"""Owner routing through the Function app, against GitHub's REST API on the loopback server (issue #15 item 1).

A signed ``issues.opened`` delivery goes to the registered ``github_webhook`` function, the label request from the
embedded queue to ``label_issue``, which labels the issue and assigns the label's owner through the product's own
REST client; humans then reassign, unassign and close on the loopback GitHub, whose state produces the
``issues.assigned``/``unassigned``/``closed`` deliveries, and the dashboard's data and page show live precision per
assignee. The model is the session's tiny one, trained and promoted for real (the fixture of the review tests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions import _runtime
from tests.conftest import user_function
from tests.github.routing_history import apply_owner_rules, owner_rules
from tests.github_server import GitHubServer, build_fixture
from tests.integration.test_review_actions import BOT, REPO, SECRET, drain, page, restart, session, webhook
from tests.integration.test_review_actions import server as server  # noqa: F401 - the fixture, shared
from triage.adapters.github.client import GitHubClient
from triage.adapters.github.settings import GitHubSettings
from triage.app.assignee_training import load_assignee_model
from triage.data.ingest import stored_issues
from triage.data.scraper import scrape
from triage.domain.issues import Issue
from triage.learning.registry import upload_model, write_pointer
from triage.ports.records import PREDICTIONS
from triage.web.view import dashboard_view

ROUTING = """dry_run: false
thresholds: {default: 0.01}
routing:
  owners: {"area-*": [alice, bob, carol]}
  away: [carol]
  rule: least_assigned
"""


def opened(server: GitHubServer, title: str = "SslStream handshake fails on Linux") -> int:
    number = server.open_issue(title, "HttpClient throws AuthenticationException")["number"]
    webhook({"action": "opened", "issue": server.issue(number), "sender": {"login": "reporter", "type": "User"}})
    assert drain() == 1
    return number


def assignees(server: GitHubServer, number: int) -> list[str]:
    return [user["login"] for user in server.issue(number)["assignees"]]


def deliver(server: GitHubServer, number: int, action: str, who: str | None, actor: str = "maintainer-a",
            actor_type: str = "User") -> dict[str, Any]:
    """GitHub's delivery of a change just made on the loopback server (the issue as it is now)."""
    payload = {"action": action, "issue": server.issue(number), "sender": {"login": actor, "type": actor_type}}
    if who is not None:
        payload["assignee"] = {"login": who, "type": "User"}
    return webhook(payload)


def assign_record(number: int) -> dict[str, Any]:
    (record,) = [p for p in _runtime.services().docs.query(PREDICTIONS, REPO, number=number) if p.get("assign")]
    return dict(record["assign"])


def test_owners_are_assigned_humans_judge_them_and_the_dashboard_shows_precision_per_assignee(
        server: GitHubServer) -> None:
    server.set_file(".github/issue-triage.yml", ROUTING)
    server.reset_log()
    first = opened(server)
    assert assignees(server, first) == ["alice"]
    event = server.events(first)[-1]
    assert (event["event"], event["assignee"]["login"], event["actor"]["login"]) == ("assigned", "alice", BOT)
    requests = [(r.method, r.path.split("?")[0]) for r in server.requests]
    assert (server.count("GET"), server.count("POST"), len(requests)) == (3, 2, 5), requests
    assert server.count("POST", rf"/issues/{first}/assignees$") == 1
    print(f"\nGitHub requests for one labeled and routed issue: {server.count('GET')} reads + "
          f"{server.count('POST')} writes (labels, assignees)")
    assert assign_record(first) | {"at": None} == {
        "login": "alice", "reason": assign_record(first)["reason"], "via": "owner", "score": None, "applied": True,
        "at": None}
    assert assign_record(first)["reason"].endswith("(fewest open issues)")

    second = opened(server, "Socket.ConnectAsync hangs on Linux")
    assert assignees(server, second) == ["bob"], "alice has one open issue now; carol is away"

    # The issue store counts the humans' assignments too: a maintainer takes an issue, then it is routed around them.
    server.assign(first, "carol", "maintainer-a")
    deliver(server, first, "assigned", "carol")  # a helper next to the pick: no verdict yet
    assert "verdict" not in assign_record(first)
    server.unassign(first, "alice", "maintainer-a")
    response = deliver(server, first, "unassigned", "alice")
    assert b"assignment of alice: corrected" in response.get_body()
    server.close_issue(second, "maintainer-b")
    assert b"assignment of bob: confirmed" in deliver(server, second, "closed", None, "maintainer-b").get_body()

    # A bot's or an App's change judges nothing.
    server.unassign(second, "bob", "other-bot[bot]", "Bot")
    assert deliver(server, second, "unassigned", "bob", "other-bot[bot]", "Bot").status_code == 202
    assert assign_record(second)["verdict"] == "confirmed"

    # Issues a human already assigned, or whose assignment a human changed before, are never touched.
    third = server.open_issue("SslStream fails again", "AuthenticationException on Linux")["number"]
    server.assign(third, "dave", "maintainer-a")
    webhook({"action": "opened", "issue": server.issue(third), "sender": {"login": "reporter", "type": "User"}})
    assert drain() == 1 and assignees(server, third) == ["dave"]
    assert server.count("POST", rf"/issues/{third}/assignees$") == 0
    assert assign_record(third)["login"] is None and "already assigned to dave" in assign_record(third)["reason"]

    routing = dashboard_view(_runtime.services(), REPO)["routing"]
    assert routing["per_assignee"]["alice"] == {"routed": 1, "applied": 1, "confirmed": 0, "corrected": 1,
                                                "precision": 0.0}
    assert routing["per_assignee"]["bob"] == {"routed": 1, "applied": 1, "confirmed": 1, "corrected": 0,
                                              "precision": 1.0}
    html = page(session())
    assert '<span id="routing-precision">50.0%</span>' in html and "assigned alice" in html
    assert 'id="routing"' in html and "<td>alice</td>" in html


def test_dry_run_records_the_exact_call_and_assigns_nobody(server: GitHubServer, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    server.set_file(".github/issue-triage.yml", ROUTING.replace("dry_run: false", "dry_run: true"))
    with caplog.at_level(logging.INFO, logger="triage.app.writers"):
        number = opened(server)
    assert assignees(server, number) == [] and server.count("POST", r"/assignees$") == 0
    call = f'POST /repos/{REPO}/issues/{number}/assignees {{"assignees": ["alice"]}}'
    assert f"dry run: would call {call}" in caplog.text
    record = assign_record(number)
    assert (record["login"], record["applied"]) == ("alice", False)
    assert "would assign (dry run) alice" in page(session())


def test_without_a_routing_section_nobody_is_assigned(server: GitHubServer) -> None:
    restart()
    number = opened(server)  # the fixture's config: no routing section
    assert assignees(server, number) == [] and server.count("POST", r"/assignees$") == 0
    assert not [p for p in _runtime.services().docs.query(PREDICTIONS, REPO, number=number) if p.get("assign")]


LEARNED = """dry_run: false
thresholds: {default: 0.01}
routing:
  owners: {no-such-label: [alice]}
  learned: true
"""


@pytest.fixture()
def learned_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_area_model: Path) -> Iterator[GitHubServer]:
    """The Function app's settings of the review tests, over a repository whose history follows owner rules."""
    fixture = build_fixture(limit=900)
    apply_owner_rules(fixture, owner_rules(fixture.labels))
    with GitHubServer(fixture) as srv:
        srv.add_token("bot-token", BOT, actor_type="Bot")
        srv.set_file(".github/issue-triage.yml", LEARNED)
        for key in ("TRIAGE_STORAGE", "TRIAGE_COSMOS", "TRIAGE_LABEL_DELAY_SECONDS"):
            monkeypatch.delenv(key, raising=False)
        for key, value in {"TRIAGE_HOME": str(tmp_path), "TRIAGE_WEBHOOK_SECRET": SECRET, "TRIAGE_DRY_RUN": "false",
                           "TRIAGE_REPOSITORIES": REPO, "GITHUB_API_URL": srv.url, "GITHUB_TOKEN": "bot-token",
                           "TRIAGE_BOT_LOGIN": BOT, "TRIAGE_RETRAIN_AFTER": "1000"}.items():
            monkeypatch.setenv(key, value)
        restart()
        s = _runtime.services()
        manifest = upload_model(s.blobs, s.docs, tiny_area_model)
        write_pointer(s.blobs, REPO, manifest["version"], None, None, "routing tests")
        yield srv
        restart()


def test_the_training_flow_trains_the_assignee_model_and_the_labeler_routes_by_it(
        learned_server: GitHubServer) -> None:
    server, s = learned_server, _runtime.services()
    api = GitHubClient(GitHubSettings(base_url=server.url, token="bot-token"), sleep=lambda _s: None)
    scrape(api, s.docs, s.blobs, REPO)
    user_function("build_dataset_activity")(REPO)  # the training orchestration's first activity
    model = load_assignee_model(s, REPO)
    assert model is not None and model.thresholds

    # The new issue is the scraped issue the model is surest of, opened again by its reporter with its labels.
    def margin(issue: Issue) -> tuple[float, str]:
        scores = model.scores(issue.title, issue.body, issue.labels)
        best = max((score - model.thresholds[login], login) for login, score in scores.items()
                   if login in model.thresholds)
        return best
    issues = [i for i in stored_issues(s.docs, REPO) if i.labels and not i.is_pull_request]
    best = max(issues, key=margin)
    gap, login = margin(best)
    assert gap >= 0, "the model clears some person's threshold on its own history"
    number = server.open_issue(best.title, best.body, labels=list(best.labels))["number"]
    webhook({"action": "opened", "issue": server.issue(number), "sender": {"login": "reporter", "type": "User"}})
    assert drain() == 1
    assert assignees(server, number) == [login]
    record = assign_record(number)
    assert record["via"] == "learned" and record["reason"].startswith("learned: ") and record["applied"] is True
